-- Functions of the londiste extension (londiste 3.8 interface).
--
-- The update from londiste 3.8 runs this file too, with every CREATE
-- FUNCTION made CREATE OR REPLACE by the Makefile's update rule, so that
-- 3.8's functions keep their OIDs, privileges and extension membership;
-- the table_info trigger, which 3.8 has as well, is replaced the same way
-- here.
--
-- Except for set_session_replication_role, everything runs with the
-- caller's rights: the replication worker and the admin tool call these
-- functions as whoever they connect as.  Since that may be a superuser
-- whose search_path (or the database's) names schemas other roles can
-- create objects in, every function and operator used here is qualified,
-- so that nothing found through the search_path runs in their place.
-- Identifiers spliced into dynamic SQL are quoted with quote_ident and
-- literals with quote_literal (or format's %I and %L).
--
-- Functions that register things return (ret_code, ret_note) in the
-- skytools convention: 2xx success, 4xx failure.  As in londiste 3.8 a
-- failure code does not undo what the call changed before it was found
-- out; callers roll back on a code of 400 or more.

--
-- Names.  A table or sequence is named by text "schema.name", split at the
-- first dot, "public" when there is none; the parts are not quoted.
--

-- Schema and name parts of a "schema.name" text.
CREATE FUNCTION londiste.split_fqname(i_fqname text,
                                      OUT schema_part text,
                                      OUT name_part text)
AS $$
DECLARE
    v_dot integer := pg_catalog.strpos(i_fqname, '.');
BEGIN
    IF v_dot OPERATOR(pg_catalog.>) 0 THEN
        schema_part := pg_catalog.substr(i_fqname, 1, v_dot OPERATOR(pg_catalog.-) 1);
        name_part := pg_catalog.substr(i_fqname, v_dot OPERATOR(pg_catalog.+) 1);
    ELSE
        schema_part := 'public';
        name_part := i_fqname;
    END IF;
END
$$ LANGUAGE plpgsql STRICT IMMUTABLE;

-- The name with "public." in front unless it names a schema already.
CREATE FUNCTION londiste.make_fqname(i_name text)
RETURNS text
AS $$
BEGIN
    IF pg_catalog.strpos(i_name, '.') OPERATOR(pg_catalog.>) 0 THEN
        RETURN i_name;
    END IF;
    RETURN pg_catalog.concat('public.', i_name);
END
$$ LANGUAGE plpgsql STRICT IMMUTABLE;

-- The name as an SQL identifier, both parts quoted as needed.
CREATE FUNCTION londiste.quote_fqname(i_name text)
RETURNS text
AS $$
DECLARE
    v_name record;
BEGIN
    v_name := londiste.split_fqname(i_name);
    RETURN pg_catalog.format('%I.%I', v_name.schema_part, v_name.name_part);
END
$$ LANGUAGE plpgsql STRICT IMMUTABLE;

-- OID of the relation of that exact (unquoted) name and relkind, or NULL.
CREATE FUNCTION londiste.find_rel_oid(i_fqname text, i_kind text)
RETURNS oid
AS $$
DECLARE
    v_name record;
    v_oid pg_catalog.oid;
BEGIN
    v_name := londiste.split_fqname(i_fqname);
    SELECT c.oid INTO v_oid
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE n.nspname OPERATOR(pg_catalog.=) v_name.schema_part::pg_catalog.name
       AND c.relname OPERATOR(pg_catalog.=) v_name.name_part::pg_catalog.name
       AND c.relkind::pg_catalog.text OPERATOR(pg_catalog.=) i_kind;
    RETURN v_oid;
END
$$ LANGUAGE plpgsql STRICT STABLE;

CREATE FUNCTION londiste.find_table_oid(tbl text)
RETURNS oid
AS $$
BEGIN
    RETURN londiste.find_rel_oid(tbl, 'r');
END
$$ LANGUAGE plpgsql STRICT STABLE;

CREATE FUNCTION londiste.find_seq_oid(seq text)
RETURNS oid
AS $$
BEGIN
    RETURN londiste.find_rel_oid(seq, 'S');
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- One letter per live column of the table in column order: 'k' for a
-- primary key column, 'v' for any other.  Empty for an unknown table.
CREATE FUNCTION londiste.find_column_types(tbl text)
RETURNS text
AS $$
DECLARE
    v_oid pg_catalog.oid := londiste.find_table_oid(tbl);
BEGIN
    RETURN COALESCE(
        (SELECT pg_catalog.string_agg(
                    CASE WHEN EXISTS (
                             SELECT 1 FROM pg_catalog.pg_index i
                              WHERE i.indrelid OPERATOR(pg_catalog.=) v_oid
                                AND i.indisprimary
                                AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey::pg_catalog.int2[]))
                         THEN 'k' ELSE 'v' END, '' ORDER BY a.attnum)
           FROM pg_catalog.pg_attribute a
          WHERE a.attrelid OPERATOR(pg_catalog.=) v_oid
            AND a.attnum OPERATOR(pg_catalog.>) 0
            AND NOT a.attisdropped), '');
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- Whether the function is one of the pgq row-capture triggers, which are
-- the only triggers londiste creates on replicated tables.
CREATE FUNCTION londiste.is_replica_func(func_oid oid)
RETURNS boolean
AS $$
    SELECT EXISTS (
        SELECT 1
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
         WHERE p.oid OPERATOR(pg_catalog.=) $1
           AND n.nspname OPERATOR(pg_catalog.=) 'pgq'
           AND p.proname OPERATOR(pg_catalog.=) ANY ('{sqltriga,logutriga,jsontriga}'::pg_catalog.name[]))
$$ LANGUAGE sql STRICT STABLE;

-- The installed version of the extension, NULL if londiste was loaded
-- some other way.  Clients compare it part by part as integers.
CREATE FUNCTION londiste.version()
RETURNS text
AS $$
BEGIN
    RETURN (SELECT e.extversion FROM pg_catalog.pg_extension e
             WHERE e.extname OPERATOR(pg_catalog.=) 'londiste');
END
$$ LANGUAGE plpgsql;

-- Bring the schema of an older installation up to date and make sure the
-- two roles exist.  Returns 0, as it always has; safe to run again.
CREATE FUNCTION londiste.upgrade_schema()
RETURNS integer
AS $$
BEGIN
    -- Columns added after londiste 3.2.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                    WHERE attrelid OPERATOR(pg_catalog.=) 'londiste.table_info'::pg_catalog.regclass
                      AND attname OPERATOR(pg_catalog.=) 'dest_table'
                      AND NOT attisdropped) THEN
        ALTER TABLE londiste.table_info ADD COLUMN dest_table text;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                    WHERE attrelid OPERATOR(pg_catalog.=) 'londiste.applied_execute'::pg_catalog.regclass
                      AND attname OPERATOR(pg_catalog.=) 'execute_attrs'
                      AND NOT attisdropped) THEN
        ALTER TABLE londiste.applied_execute ADD COLUMN execute_attrs text;
    END IF;

    -- Cluster-wide roles: another database may have created them.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname OPERATOR(pg_catalog.=) 'londiste_writer') THEN
        CREATE ROLE londiste_writer IN ROLE pgq_admin;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles
                    WHERE rolname OPERATOR(pg_catalog.=) 'londiste_reader') THEN
        CREATE ROLE londiste_reader IN ROLE pgq_reader;
    END IF;
    RETURN 0;
END
$$ LANGUAGE plpgsql;

SELECT londiste.upgrade_schema();

--
-- What a node replicates.
--

-- Sequences of the queue, in registration order.
CREATE FUNCTION londiste.get_seq_list(i_queue_name text,
                                      OUT seq_name text,
                                      OUT last_value bigint,
                                      OUT local boolean)
RETURNS SETOF record
AS $$
BEGIN
    RETURN QUERY
        SELECT s.seq_name, s.last_value, s.local
          FROM londiste.seq_info s
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
         ORDER BY s.nr, s.seq_name;
END
$$ LANGUAGE plpgsql STRICT;

-- Tables of the queue, in registration order, with the copy role of those
-- being copied.  The worker calls this once per batch.
CREATE FUNCTION londiste.get_table_list(i_queue_name text,
                                        OUT table_name text,
                                        OUT local boolean,
                                        OUT merge_state text,
                                        OUT custom_snapshot text,
                                        OUT table_attrs text,
                                        OUT dropped_ddl text,
                                        OUT copy_role text,
                                        OUT copy_pos integer,
                                        OUT dest_table text)
RETURNS SETOF record
AS $$
BEGIN
    -- Only the tables being copied need _coordinate_copy.  OFFSET 0 keeps
    -- the subquery from being merged into the join, so its condition on
    -- the outer row is checked before the function is called.
    RETURN QUERY
        SELECT t.table_name, t.local, t.merge_state, t.custom_snapshot,
               t.table_attrs, t.dropped_ddl, c.copy_role,
               COALESCE(c.copy_pos, 0), t.dest_table
          FROM londiste.table_info t
          LEFT JOIN LATERAL (
                SELECT cc.copy_role, cc.copy_pos
                  FROM londiste._coordinate_copy(t.queue_name, t.table_name) cc
                 WHERE t.merge_state OPERATOR(pg_catalog.=)
                           ANY ('{in-copy,catching-up}'::pg_catalog.text[])
                OFFSET 0) c ON true
         WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
         ORDER BY t.nr, t.table_name;
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- Role of this queue's copy of a table that several queues of the
-- database feed into one destination (a merge): the "lead" copy drops and
-- later re-creates indexes and constraints, the others wait for it
-- ("wait-copy") or for the replay to catch up ("wait-replay").  copy_pos
-- orders concurrent copies.  NULL role: copy on your own.
--
-- Siblings are the rows with the same effective destination in queues
-- with the same combined_queue (NULL counting as equal) that are not yet
-- in sync.
CREATE FUNCTION londiste._coordinate_copy(i_queue_name text, i_table_name text,
                                          OUT copy_role text,
                                          OUT copy_pos integer)
AS $$
DECLARE
    v_state pg_catalog.text;
    v_ddl pg_catalog.text;
    v_first pg_catalog.text;       -- first local sibling queue
    v_first_ddl pg_catalog.text;   -- first local sibling queue holding dropped DDL
    v_lead pg_catalog.text;
    v_parts integer;    -- local siblings
    v_done integer;     -- local siblings past their copy
BEGIN
    SELECT t.merge_state, t.dropped_ddl,
           pg_catalog.min(s.queue_name) FILTER (WHERE s.local),
           pg_catalog.min(s.queue_name) FILTER (WHERE s.local AND s.dropped_ddl IS NOT NULL),
           pg_catalog.count(*) FILTER (WHERE s.local),
           pg_catalog.count(*) FILTER (WHERE s.local
                                         AND s.merge_state OPERATOR(pg_catalog.<>) 'in-copy'),
           pg_catalog.count(*) FILTER (WHERE s.queue_name OPERATOR(pg_catalog.<) i_queue_name
                                         AND t.merge_state OPERATOR(pg_catalog.=) 'in-copy'
                                         AND s.merge_state OPERATOR(pg_catalog.=) 'in-copy')
      INTO v_state, v_ddl, v_first, v_first_ddl, v_parts, v_done, copy_pos
      FROM londiste.table_info t
      JOIN pgq_node.node_info n ON n.queue_name OPERATOR(pg_catalog.=) t.queue_name
      LEFT JOIN (londiste.table_info s
                 JOIN pgq_node.node_info sn
                   ON sn.queue_name OPERATOR(pg_catalog.=) s.queue_name)
        ON COALESCE(s.dest_table, s.table_name) OPERATOR(pg_catalog.=)
               COALESCE(t.dest_table, t.table_name)
       AND (sn.combined_queue OPERATOR(pg_catalog.=) n.combined_queue
            OR (sn.combined_queue IS NULL AND n.combined_queue IS NULL))
       AND (s.merge_state IS NULL OR s.merge_state OPERATOR(pg_catalog.<>) 'ok')
     WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND t.table_name OPERATOR(pg_catalog.=) i_table_name
     GROUP BY t.merge_state, t.dropped_ddl;

    v_lead := COALESCE(v_first_ddl, v_first);
    IF v_lead IS NULL OR v_parts OPERATOR(pg_catalog.=) 1 THEN
        RETURN;
    END IF;

    IF v_lead OPERATOR(pg_catalog.=) i_queue_name THEN
        IF v_state OPERATOR(pg_catalog.=) 'in-copy' THEN
            -- a lead without DDL to restore comes after a finished lead
            IF v_ddl IS NULL AND v_done OPERATOR(pg_catalog.>) 0 THEN
                copy_role := 'wait-replay';
            ELSIF v_done OPERATOR(pg_catalog.<) v_parts THEN
                copy_role := 'lead';
            END IF;
            copy_pos := 0;
        ELSIF v_state OPERATOR(pg_catalog.=) 'catching-up'
              AND v_ddl IS NOT NULL
              AND v_done OPERATOR(pg_catalog.<) v_parts THEN
            -- the lead restores the DDL once every part is copied
            copy_role := 'wait-replay';
        END IF;
    ELSIF v_state OPERATOR(pg_catalog.=) 'in-copy' THEN
        IF v_first_ddl IS NOT NULL OR v_done OPERATOR(pg_catalog.>) 0 THEN
            copy_role := 'wait-replay';
        ELSE
            copy_role := 'wait-copy';
        END IF;
    ELSIF v_state OPERATOR(pg_catalog.=) 'catching-up' AND v_first_ddl IS NOT NULL THEN
        copy_role := 'wait-replay';
    END IF;
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- On the root: tables and sequences of the database that the queue does
-- not replicate.  Elsewhere: what the queue offers that this node has not
-- subscribed to.
CREATE FUNCTION londiste.local_show_missing(i_queue_name text,
                                            OUT obj_kind text,
                                            OUT obj_name text)
RETURNS SETOF record
AS $$
BEGIN
    IF pgq_node.is_root_node(i_queue_name) THEN
        RETURN QUERY
            SELECT r.relkind::pg_catalog.text,
                   pg_catalog.concat(n.nspname, '.', r.relname)
              FROM pg_catalog.pg_class r
              JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
             WHERE r.relkind OPERATOR(pg_catalog.=) ANY ('{r,S}'::pg_catalog."char"[])
               AND n.nspname OPERATOR(pg_catalog.<>) ALL
                   ('{pgq,pgq_ext,pgq_node,londiste,pg_catalog,information_schema}'::pg_catalog.name[])
               AND n.nspname::pg_catalog.text OPERATOR(pg_catalog.!~) '^pg_(toast|temp)'
               AND NOT EXISTS (
                       SELECT 1 FROM londiste.table_info t
                        WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
                          AND t.local
                          AND COALESCE(t.dest_table, t.table_name) OPERATOR(pg_catalog.=)
                                  pg_catalog.concat(n.nspname, '.', r.relname))
             ORDER BY 1, 2;
    ELSE
        RETURN QUERY
            SELECT 'S'::pg_catalog.text, s.seq_name
              FROM londiste.seq_info s
             WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name AND NOT s.local
            UNION ALL
            SELECT 'r'::pg_catalog.text, t.table_name
              FROM londiste.table_info t
             WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name AND NOT t.local
             ORDER BY 1, 2;
    END IF;
END
$$ LANGUAGE plpgsql STRICT STABLE;

--
-- Sequences.  The root publishes a value ahead of each local sequence
-- (londiste.update-seq events); other nodes store it and move their own
-- sequence there if they replicate it.
--

-- Replicate a sequence: on the root, start publishing it; elsewhere,
-- subscribe to one the root publishes.
CREATE FUNCTION londiste.local_add_seq(i_queue_name text, i_seq_name text,
                                       OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_seq_name);
    v_seq record;
BEGIN
    IF londiste.find_seq_oid(v_fq) IS NULL THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('Sequence not found: ', v_fq);
        RETURN;
    END IF;

    SELECT s.local, s.last_value INTO v_seq
      FROM londiste.seq_info s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.seq_name OPERATOR(pg_catalog.=) v_fq
       FOR UPDATE;

    IF pgq_node.is_root_node(i_queue_name) THEN
        IF FOUND AND v_seq.local THEN
            ret_code := 201;
            ret_note := pg_catalog.concat('Sequence already added: ', v_fq);
            RETURN;
        ELSIF FOUND THEN
            UPDATE londiste.seq_info SET local = true
             WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
               AND seq_name OPERATOR(pg_catalog.=) v_fq;
        ELSE
            INSERT INTO londiste.seq_info (queue_name, seq_name, local, last_value)
            VALUES (i_queue_name, v_fq, true, 0);
        END IF;
        -- publish the first value now rather than at the next maintenance
        PERFORM londiste.root_check_seqs(i_queue_name);
    ELSE
        IF NOT FOUND THEN
            ret_code := 404;
            ret_note := pg_catalog.concat('Unknown sequence: ', v_fq);
            RETURN;
        ELSIF v_seq.local THEN
            ret_code := 201;
            ret_note := pg_catalog.concat('Sequence already added: ', v_fq);
            RETURN;
        END IF;
        UPDATE londiste.seq_info SET local = true
         WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND seq_name OPERATOR(pg_catalog.=) v_fq;
        PERFORM pgq.seq_setval(v_fq, v_seq.last_value);
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Sequence added: ', v_fq);
END
$$ LANGUAGE plpgsql;

-- Stop replicating a sequence; on the root this removes it from the queue.
CREATE FUNCTION londiste.local_remove_seq(i_queue_name text, i_seq_name text,
                                          OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_seq_name);
BEGIN
    IF pgq_node.is_root_node(i_queue_name) THEN
        SELECT r.ret_code, r.ret_note INTO ret_code, ret_note
          FROM londiste.global_remove_seq(i_queue_name, v_fq) r;
        RETURN;
    END IF;
    UPDATE londiste.seq_info SET local = false
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND seq_name OPERATOR(pg_catalog.=) v_fq
       AND local;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := pg_catalog.concat('Sequence not found: ', v_fq);
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Sequence removed: ', v_fq);
END
$$ LANGUAGE plpgsql STRICT;

-- A londiste.update-seq event reached a non-root node: remember the value
-- and move the local sequence to it if this node replicates it.
CREATE FUNCTION londiste.global_update_seq(i_queue_name text, i_seq_name text,
                                           i_value bigint,
                                           OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_node_type pg_catalog.text;
    v_fq pg_catalog.text;
    v_local boolean;
BEGIN
    SELECT n.node_type INTO v_node_type
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := pg_catalog.concat('Set not found: ', i_queue_name);
        RETURN;
    ELSIF v_node_type OPERATOR(pg_catalog.=) 'root' THEN
        ret_code := 402;
        ret_note := 'Must not run on root node';
        RETURN;
    END IF;

    v_fq := londiste.make_fqname(i_seq_name);
    SELECT s.local INTO v_local
      FROM londiste.seq_info s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.seq_name OPERATOR(pg_catalog.=) v_fq
       FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO londiste.seq_info (queue_name, seq_name, last_value)
        VALUES (i_queue_name, v_fq, i_value);
    ELSE
        UPDATE londiste.seq_info SET last_value = i_value
         WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND seq_name OPERATOR(pg_catalog.=) v_fq;
        IF v_local THEN
            PERFORM pgq.seq_setval(v_fq, i_value);
        END IF;
    END IF;
    ret_code := 200;
    ret_note := 'Sequence updated';
END
$$ LANGUAGE plpgsql;

-- Forget a sequence; the root tells the other nodes.
CREATE FUNCTION londiste.global_remove_seq(i_queue_name text, i_seq_name text,
                                           OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_seq_name);
BEGIN
    DELETE FROM londiste.seq_info
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND seq_name OPERATOR(pg_catalog.=) v_fq;
    IF NOT FOUND THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('Sequence not found: ', v_fq);
        RETURN;
    END IF;
    IF pgq_node.is_root_node(i_queue_name) THEN
        PERFORM londiste.root_notify_change(i_queue_name, 'londiste.remove-seq', v_fq);
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Sequence removed: ', v_fq);
END
$$ LANGUAGE plpgsql STRICT;

-- On the root: publish a new value for every local sequence that came
-- within i_buffer of the value published last, three buffers ahead of its
-- current value.  Run periodically by the ticker through
-- pgq.maint_operations (a composite result: it is called once a round).
CREATE FUNCTION londiste.root_check_seqs(i_queue_name text, i_buffer bigint,
                                         OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_buffer bigint := i_buffer;
    v_node_type pg_catalog.text;
    v_seq record;
    v_value bigint;
    v_publish bigint;
BEGIN
    IF v_buffer IS NULL OR v_buffer OPERATOR(pg_catalog.<) 10 THEN
        v_buffer := 10000;
    END IF;

    -- the node row serialises concurrent checks of one queue
    SELECT n.node_type INTO v_node_type
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := pg_catalog.concat('Queue not found: ', i_queue_name);
        RETURN;
    ELSIF v_node_type OPERATOR(pg_catalog.<>) 'root' THEN
        ret_code := 402;
        ret_note := 'Not a root node';
        RETURN;
    END IF;

    FOR v_seq IN
        SELECT s.seq_name, s.last_value
          FROM londiste.seq_info s
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND s.local
         ORDER BY s.nr
    LOOP
        EXECUTE pg_catalog.format('SELECT last_value FROM %s',
                                  londiste.quote_fqname(v_seq.seq_name))
           INTO v_value;
        -- OPERATOR() forms share one precedence: parenthesised
        IF (v_value OPERATOR(pg_catalog.+) v_buffer) OPERATOR(pg_catalog.>=) v_seq.last_value THEN
            v_publish := v_value OPERATOR(pg_catalog.+) (v_buffer OPERATOR(pg_catalog.*) 3);
            PERFORM pgq.insert_event(i_queue_name, 'londiste.update-seq',
                                     v_publish::pg_catalog.text, v_seq.seq_name,
                                     NULL, NULL, NULL);
            UPDATE londiste.seq_info SET last_value = v_publish
             WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
               AND seq_name OPERATOR(pg_catalog.=) v_seq.seq_name;
        END IF;
    END LOOP;
    ret_code := 100;
    ret_note := 'Sequences updated';
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION londiste.root_check_seqs(i_queue_name text,
                                         OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    SELECT r.ret_code, r.ret_note INTO ret_code, ret_note
      FROM londiste.root_check_seqs(i_queue_name, 10000) r;
END
$$ LANGUAGE plpgsql;

-- Queue an event for the other nodes; only the root may.
CREATE FUNCTION londiste.root_notify_change(i_queue_name text, i_ev_type text,
                                            i_ev_data text)
RETURNS integer
AS $$
BEGIN
    IF NOT COALESCE(pgq_node.is_root_node(i_queue_name), false) THEN
        RAISE EXCEPTION 'only root node can send events';
    END IF;
    PERFORM pgq.insert_event(i_queue_name, i_ev_type, i_ev_data);
    RETURN 1;
END
$$ LANGUAGE plpgsql;

--
-- Tables.
--

-- Create the pgq triggers that capture changes of a table into the queue:
-- a row trigger _londiste_<queue> and a statement trigger
-- _londiste_<queue>_truncate.
--
-- i_trg_args are pgq trigger arguments, passed on in order, except for
-- these, which steer the creation:
--   tgflags=<letters>  B before, A after (A wins); J jsontriga, L logutriga,
--                      Q sqltriga (in that precedence, default logutriga);
--                      I U D the events (default all three); S as "skip"
--   skip               (any case) a BEFORE trigger that suppresses the row
--                      change: named zzz_... so that it fires last
--   no_triggers, virtual_table  create nothing (201)
--   expect_sync, skip_truncate, merge_all, no_merge  meant for
--                      local_add_table, ignored here
-- On a leaf the triggers get the argument deny, so local changes fail.
-- i_dest_table is the local name when the table is replicated under
-- another name; the row trigger then puts the queue's name of the table
-- into ev_extra1 unless an ev_extra1= argument is given.
--
-- The row trigger is dropped and made again on every call, as in londiste
-- 3.8; the truncate trigger is made only if missing.  trigger_name is
-- always NULL (3.8 never filled it in).
CREATE FUNCTION londiste.create_trigger(i_queue_name text, i_table_name text,
                                        i_trg_args text[], i_dest_table text,
                                        i_node_type text,
                                        OUT ret_code integer, OUT ret_note text,
                                        OUT trigger_name text)
AS $$
DECLARE
    v_arg pg_catalog.text;
    v_flags pg_catalog.text := '';
    v_args pg_catalog.text[] := '{}';      -- quoted trigger arguments
    v_deny pg_catalog.text[] := '{}';
    v_skip boolean := false;
    v_has_extra1 boolean := false;
    v_name pg_catalog.text;
    v_truncate_name pg_catalog.text;
    v_timing pg_catalog.text := 'AFTER';
    v_func pg_catalog.text := 'pgq.logutriga';
    v_events pg_catalog.text[] := '{}';
    v_table_oid pg_catalog.oid;
    v_qtable pg_catalog.text;
    v_skip_count bigint;
    v_skip_name pg_catalog.text;
BEGIN
    FOREACH v_arg IN ARRAY COALESCE(i_trg_args, '{}'::pg_catalog.text[]) LOOP
        IF pg_catalog.starts_with(v_arg, 'tgflags=') THEN
            v_flags := pg_catalog.concat(v_flags, pg_catalog.upper(pg_catalog.substr(v_arg, 9)));
        ELSIF v_arg OPERATOR(pg_catalog.=) ANY ('{no_triggers,virtual_table}'::pg_catalog.text[]) THEN
            ret_code := 201;
            ret_note := 'Trigger not created';
            RETURN;
        ELSIF pg_catalog.lower(v_arg) OPERATOR(pg_catalog.=) 'skip' THEN
            v_skip := true;
        ELSIF v_arg OPERATOR(pg_catalog.<>) ALL
                ('{expect_sync,skip_truncate,merge_all,no_merge}'::pg_catalog.text[]) THEN
            IF pg_catalog.starts_with(v_arg, 'ev_extra1=') THEN
                v_has_extra1 := true;
            END IF;
            v_args := pg_catalog.array_append(v_args, pg_catalog.quote_literal(v_arg));
        END IF;
    END LOOP;

    -- A table replicated under another name must still be known to the
    -- queue by the global one.
    IF i_dest_table OPERATOR(pg_catalog.<>) i_table_name AND NOT v_has_extra1 THEN
        v_args := pg_catalog.array_append(v_args, pg_catalog.quote_literal(
                      pg_catalog.concat('ev_extra1=', pg_catalog.quote_literal(i_table_name))));
    END IF;

    IF pg_catalog.strpos(v_flags, 'B') OPERATOR(pg_catalog.>) 0 THEN
        v_timing := 'BEFORE';
    END IF;
    IF pg_catalog.strpos(v_flags, 'A') OPERATOR(pg_catalog.>) 0 THEN
        v_timing := 'AFTER';
    END IF;
    IF pg_catalog.strpos(v_flags, 'J') OPERATOR(pg_catalog.>) 0 THEN
        v_func := 'pgq.jsontriga';
    ELSIF pg_catalog.strpos(v_flags, 'L') OPERATOR(pg_catalog.>) 0 THEN
        v_func := 'pgq.logutriga';
    ELSIF pg_catalog.strpos(v_flags, 'Q') OPERATOR(pg_catalog.>) 0 THEN
        v_func := 'pgq.sqltriga';
    END IF;
    IF pg_catalog.strpos(v_flags, 'I') OPERATOR(pg_catalog.>) 0 THEN
        v_events := pg_catalog.array_append(v_events, 'INSERT'::pg_catalog.text);
    END IF;
    IF pg_catalog.strpos(v_flags, 'U') OPERATOR(pg_catalog.>) 0 THEN
        v_events := pg_catalog.array_append(v_events, 'UPDATE'::pg_catalog.text);
    END IF;
    IF pg_catalog.strpos(v_flags, 'D') OPERATOR(pg_catalog.>) 0 THEN
        v_events := pg_catalog.array_append(v_events, 'DELETE'::pg_catalog.text);
    END IF;
    IF v_events OPERATOR(pg_catalog.=) '{}'::pg_catalog.text[] THEN
        v_events := '{INSERT,UPDATE,DELETE}';
    END IF;
    IF pg_catalog.strpos(v_flags, 'S') OPERATOR(pg_catalog.>) 0 THEN
        v_skip := true;
    END IF;

    IF i_node_type OPERATOR(pg_catalog.=) 'leaf' THEN
        -- a leaf may lack the pgq trigger functions; then it gets none
        IF NOT EXISTS (SELECT 1
                         FROM pg_catalog.pg_proc p
                         JOIN pg_catalog.pg_namespace n
                           ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
                        WHERE n.nspname OPERATOR(pg_catalog.=) 'pgq'
                          AND p.proname OPERATOR(pg_catalog.=) ANY
                              ('{logutriga,sqltriga,jsontriga}'::pg_catalog.name[])) THEN
            ret_code := 201;
            ret_note := 'Trigger not created';
            RETURN;
        END IF;
        -- nothing may change a leaf's copy but the replay
        v_deny := ARRAY[pg_catalog.quote_literal('deny')];
    END IF;

    v_table_oid := londiste.find_table_oid(i_dest_table);
    v_qtable := londiste.quote_fqname(i_dest_table);
    v_name := pg_catalog.concat('_londiste_', i_queue_name);

    -- A SKIP trigger suppresses the row, so an AFTER trigger would never
    -- see it; only one SKIP trigger may exist, and it must fire last.
    IF v_skip OR v_timing OPERATOR(pg_catalog.=) 'AFTER' THEN
        SELECT pg_catalog.count(*), pg_catalog.min(t.tgname)
          INTO v_skip_count, v_skip_name
          FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid OPERATOR(pg_catalog.=) v_table_oid
           AND pg_catalog.position(t.tgargs, E'\\000SKIP\\000'::pg_catalog.bytea) OPERATOR(pg_catalog.>) 0;
    END IF;
    IF v_timing OPERATOR(pg_catalog.=) 'AFTER' AND v_skip_count OPERATOR(pg_catalog.>) 0 THEN
        ret_code := 403;
        ret_note := 'AFTER trigger cannot work with SKIP trigger(s)';
        RETURN;
    END IF;
    IF v_skip THEN
        IF v_skip_count OPERATOR(pg_catalog.=) 0 THEN
            v_name := pg_catalog.concat('zzz_', v_name);
            v_args := pg_catalog.array_append(v_args, pg_catalog.quote_literal('SKIP'));
        ELSIF v_skip_count OPERATOR(pg_catalog.=) 1 THEN
            -- the existing SKIP trigger does the skipping; make it last
            IF pg_catalog.strpos(v_skip_name, 'zzz_') OPERATOR(pg_catalog.<>) 1 THEN
                EXECUTE pg_catalog.format('ALTER TRIGGER %I ON %s RENAME TO %I',
                                          v_skip_name, v_qtable,
                                          pg_catalog.concat('zzz_', v_skip_name));
            END IF;
        ELSE
            ret_code := 405;
            ret_note := 'Multiple SKIP triggers';
            RETURN;
        END IF;
    END IF;

    -- (checked first: DROP ... IF EXISTS would send the caller a notice)
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid OPERATOR(pg_catalog.=) v_table_oid
                  AND t.tgname OPERATOR(pg_catalog.=) v_name::pg_catalog.name) THEN
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', v_name, v_qtable);
    END IF;
    EXECUTE pg_catalog.format(
        'CREATE TRIGGER %I %s %s ON %s FOR EACH ROW EXECUTE FUNCTION %s(%s)',
        v_name, v_timing, pg_catalog.array_to_string(v_events, ' OR '), v_qtable, v_func,
        pg_catalog.array_to_string(
            ARRAY[pg_catalog.quote_literal(i_queue_name)]
                OPERATOR(pg_catalog.||) v_args OPERATOR(pg_catalog.||) v_deny, ', '));

    -- TRUNCATE is captured as plain "R", under the local name of the table.
    v_truncate_name := pg_catalog.concat('_londiste_', i_queue_name, '_truncate');
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                    WHERE t.tgrelid OPERATOR(pg_catalog.=) v_table_oid
                      AND t.tgname OPERATOR(pg_catalog.=) v_truncate_name::pg_catalog.name) THEN
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER %I AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION pgq.sqltriga(%s)',
            v_truncate_name, v_qtable,
            pg_catalog.array_to_string(
                ARRAY[pg_catalog.quote_literal(i_queue_name)] OPERATOR(pg_catalog.||) v_deny, ', '));
    END IF;

    ret_code := 200;
    ret_note := 'OK';
END
$$ LANGUAGE plpgsql;

-- Subscribe this node to a table of the queue (on the root: add it to the
-- queue), and create its triggers.
--
-- Besides pgq trigger arguments and create_trigger's flags, i_trg_args may
-- hold: expect_sync (the table is in sync already: state ok, no copy),
-- skip_truncate (table attribute skip_truncate=1: the copy keeps existing
-- rows), virtual_table (no table needed, no triggers, no copy), and for a
-- leaf that merges several queues into one table, merge_all (subscribe
-- all of them at once) or no_merge (only this one).
-- i_table_attrs are the worker's handler settings, urlencoded;
-- i_dest_table the local name if it differs from the queue's.
CREATE FUNCTION londiste.local_add_table(i_queue_name text, i_table_name text,
                                         i_trg_args text[], i_table_attrs text,
                                         i_dest_table text,
                                         OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_arg pg_catalog.text;
    v_expect_sync boolean := false;
    v_merge_all boolean := false;
    v_no_merge boolean := false;
    v_virtual boolean := false;
    v_attrs pg_catalog.text := i_table_attrs;
    v_fq pg_catalog.text;
    v_dest pg_catalog.text;
    v_desc pg_catalog.text;
    v_node record;
    v_tbl record;
    v_state pg_catalog.text;
    v_sibling record;
    v_combined pg_catalog.text;
    v_trg record;
BEGIN
    FOREACH v_arg IN ARRAY COALESCE(i_trg_args, '{}'::pg_catalog.text[]) LOOP
        IF v_arg OPERATOR(pg_catalog.=) 'expect_sync' THEN
            v_expect_sync := true;
        ELSIF v_arg OPERATOR(pg_catalog.=) 'skip_truncate' THEN
            v_attrs := COALESCE(v_attrs OPERATOR(pg_catalog.||) '&skip_truncate=1',
                                           'skip_truncate=1');
        ELSIF v_arg OPERATOR(pg_catalog.=) 'merge_all' THEN
            v_merge_all := true;
        ELSIF v_arg OPERATOR(pg_catalog.=) 'no_merge' THEN
            v_no_merge := true;
        ELSIF v_arg OPERATOR(pg_catalog.=) 'virtual_table' THEN
            v_virtual := true;
            v_expect_sync := true;
        END IF;
    END LOOP;
    IF v_merge_all AND v_no_merge THEN
        ret_code := 405;
        ret_note := 'Cannot use merge-all and no-merge together';
        RETURN;
    END IF;

    v_fq := londiste.make_fqname(i_table_name);
    v_dest := londiste.make_fqname(COALESCE(i_dest_table, i_table_name));
    IF v_dest OPERATOR(pg_catalog.=) v_fq THEN
        v_desc := v_fq;
    ELSE
        v_desc := pg_catalog.concat(v_fq, '(', v_dest, ')');
    END IF;

    IF NOT v_virtual THEN
        IF londiste.find_table_oid(v_dest) IS NULL THEN
            ret_code := 404;
            ret_note := pg_catalog.concat('Table does not exist: ', v_desc);
            RETURN;
        END IF;
        -- Replay needs a key.  The lead copy of a merged table drops it
        -- for the copy (its DDL waits in dropped_ddl), which is no reason
        -- to refuse the table's other queues.
        IF pg_catalog.strpos(londiste.find_column_types(v_dest), 'k') OPERATOR(pg_catalog.=) 0
           AND NOT EXISTS (
                SELECT 1
                  FROM pgq_node.node_info n_this
                  JOIN pgq_node.node_info n_other
                    ON n_other.combined_queue OPERATOR(pg_catalog.=) n_this.combined_queue
                   AND n_other.queue_name OPERATOR(pg_catalog.<>) n_this.queue_name
                  JOIN londiste.table_info t
                    ON t.queue_name OPERATOR(pg_catalog.=) n_other.queue_name
                 WHERE n_this.queue_name OPERATOR(pg_catalog.=) i_queue_name
                   AND COALESCE(t.dest_table, t.table_name) OPERATOR(pg_catalog.=) v_dest
                   AND t.dropped_ddl IS NOT NULL) THEN
            ret_code := 400;
            ret_note := pg_catalog.concat('Primary key missing on table: ', v_desc);
            RETURN;
        END IF;
    END IF;

    SELECT * INTO v_node FROM pgq_node.get_node_info(i_queue_name);
    IF NOT FOUND OR v_node.ret_code OPERATOR(pg_catalog.>=) 400 THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('No such set: ', i_queue_name);
        RETURN;
    END IF;

    SELECT t.local, t.table_attrs INTO v_tbl
      FROM londiste.table_info t
     WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND t.table_name OPERATOR(pg_catalog.=) v_fq;
    IF NOT FOUND THEN
        -- only the root decides what the queue carries
        IF v_node.node_type OPERATOR(pg_catalog.<>) 'root' THEN
            ret_code := 404;
            ret_note := pg_catalog.concat('Table not available on queue: ', v_desc);
            RETURN;
        END IF;
        SELECT g.ret_code, g.ret_note INTO ret_code, ret_note
          FROM londiste.global_add_table(i_queue_name, i_table_name) g;
        IF ret_code OPERATOR(pg_catalog.<>) 200 THEN
            RETURN;
        END IF;
        SELECT t.local, t.table_attrs INTO v_tbl
          FROM londiste.table_info t
         WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND t.table_name OPERATOR(pg_catalog.=) v_fq;
    END IF;

    IF v_tbl.local THEN
        IF NOT COALESCE(v_tbl.table_attrs OPERATOR(pg_catalog.=) v_attrs,
                        v_tbl.table_attrs IS NULL AND v_attrs IS NULL) THEN
            ret_code := 410;
            ret_note := pg_catalog.concat('Table ', v_desc, ' already added, but with different args: ',
                                          v_tbl.table_attrs);
        ELSE
            ret_code := 200;
            ret_note := pg_catalog.concat('Table already added: ', v_desc);
        END IF;
        RETURN;
    END IF;

    -- Rows the root captures are in sync by definition; so is a leaf of a
    -- combined branch, which gets its rows through that branch's copy.
    IF v_node.node_type OPERATOR(pg_catalog.=) 'root' THEN
        v_state := 'ok';
        PERFORM londiste.root_notify_change(i_queue_name, 'londiste.add-table', v_fq);
    ELSIF (v_node.node_type OPERATOR(pg_catalog.=) 'leaf'
           AND v_node.combined_type OPERATOR(pg_catalog.=) 'branch')
          OR v_expect_sync THEN
        v_state := 'ok';
    END IF;

    UPDATE londiste.table_info
       SET local = true, merge_state = v_state,
           table_attrs = COALESCE(v_attrs, table_attrs),
           dest_table = CASE WHEN v_dest OPERATOR(pg_catalog.<>) v_fq THEN v_dest END
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND table_name OPERATOR(pg_catalog.=) v_fq;

    -- A leaf merging several queues into one table subscribes to the
    -- table in all of them (merge_all), or in this one only (no_merge).
    IF v_node.node_type OPERATOR(pg_catalog.=) 'leaf' AND NOT v_no_merge THEN
        FOR v_sibling IN
            SELECT s.queue_name, s.table_name, s.local
              FROM londiste.table_info t
              JOIN pgq_node.node_info n ON n.queue_name OPERATOR(pg_catalog.=) t.queue_name
              JOIN pgq_node.node_info sn
                ON sn.combined_queue OPERATOR(pg_catalog.=) n.combined_queue
                OR (sn.combined_queue IS NULL AND n.combined_queue IS NULL)
              JOIN londiste.table_info s
                ON s.queue_name OPERATOR(pg_catalog.=) sn.queue_name
               AND COALESCE(s.dest_table, s.table_name) OPERATOR(pg_catalog.=)
                       COALESCE(t.dest_table, t.table_name)
             WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
               AND t.table_name OPERATOR(pg_catalog.=) v_fq
               AND s.queue_name OPERATOR(pg_catalog.<>) i_queue_name
        LOOP
            IF v_sibling.local AND NOT COALESCE(v_state OPERATOR(pg_catalog.=) 'ok', false) THEN
                ret_code := 405;
                ret_note := pg_catalog.concat('Found local table ', v_desc, ' in queue ',
                                              v_sibling.queue_name,
                                              ', use remove-table first to remove all previous table subscriptions');
                RETURN;
            ELSIF NOT v_merge_all AND NOT COALESCE(v_state OPERATOR(pg_catalog.=) 'ok', false) THEN
                ret_code := 405;
                ret_note := pg_catalog.concat('Found multiple sources for table ', v_desc,
                                              ', use merge-all or no-merge to continue');
                RETURN;
            END IF;
            UPDATE londiste.table_info
               SET local = true, merge_state = v_state,
                   table_attrs = COALESCE(v_attrs, table_attrs)
             WHERE queue_name OPERATOR(pg_catalog.=) v_sibling.queue_name
               AND table_name OPERATOR(pg_catalog.=) v_sibling.table_name;
        END LOOP;

        -- The combined queue (on a root or branch in this database) must
        -- carry the table too.
        SELECT c.queue_name INTO v_combined
          FROM pgq_node.node_info n
          JOIN pgq_node.node_info c ON c.queue_name OPERATOR(pg_catalog.=) n.combined_queue
         WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND c.node_type OPERATOR(pg_catalog.=) ANY ('{root,branch}'::pg_catalog.text[])
           AND NOT EXISTS (SELECT 1 FROM londiste.table_info t
                            WHERE t.queue_name OPERATOR(pg_catalog.=) c.queue_name
                              AND t.table_name OPERATOR(pg_catalog.=) v_fq
                              AND t.local);
        IF FOUND THEN
            SELECT a.ret_code, a.ret_note INTO ret_code, ret_note
              FROM londiste.local_add_table(v_combined, v_fq, i_trg_args, v_attrs, v_dest) a;
            IF ret_code OPERATOR(pg_catalog.>=) 300 THEN
                RETURN;
            END IF;
        END IF;
    END IF;

    SELECT * INTO v_trg
      FROM londiste.create_trigger(i_queue_name, v_fq, i_trg_args, v_dest, v_node.node_type);
    IF v_trg.ret_code OPERATOR(pg_catalog.>) 299 THEN
        ret_code := v_trg.ret_code;
        ret_note := pg_catalog.concat('Trigger creation failed for table ', v_desc, ': ',
                                      v_trg.ret_note);
    ELSIF v_trg.ret_code OPERATOR(pg_catalog.=) 201 THEN
        ret_code := 200;
        ret_note := pg_catalog.concat('Table added with no triggers: ', v_desc);
    ELSE
        ret_code := 200;
        ret_note := pg_catalog.concat('Table added: ', v_desc);
    END IF;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION londiste.local_add_table(i_queue_name text, i_table_name text,
                                         i_trg_args text[], i_table_attrs text,
                                         OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    SELECT a.ret_code, a.ret_note INTO ret_code, ret_note
      FROM londiste.local_add_table(i_queue_name, i_table_name, i_trg_args,
                                    i_table_attrs, NULL) a;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION londiste.local_add_table(i_queue_name text, i_table_name text,
                                         i_trg_args text[],
                                         OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    SELECT a.ret_code, a.ret_note INTO ret_code, ret_note
      FROM londiste.local_add_table(i_queue_name, i_table_name, i_trg_args,
                                    NULL::pg_catalog.text) a;
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION londiste.local_add_table(i_queue_name text, i_table_name text,
                                         OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    SELECT a.ret_code, a.ret_note INTO ret_code, ret_note
      FROM londiste.local_add_table(i_queue_name, i_table_name, NULL::pg_catalog.text[]) a;
END
$$ LANGUAGE plpgsql STRICT;

-- Store new handler settings for a local table and re-create its triggers
-- with new arguments.  i_table_name is used as given, not completed with
-- "public." (as in londiste 3.8).
CREATE FUNCTION londiste.local_change_handler(i_queue_name text, i_table_name text,
                                              i_trg_args text[], i_table_attrs text,
                                              OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_node record;
    v_dest pg_catalog.text;
    v_desc pg_catalog.text;
    v_trg record;
BEGIN
    SELECT * INTO v_node FROM pgq_node.get_node_info(i_queue_name);
    IF NOT FOUND OR v_node.ret_code OPERATOR(pg_catalog.>=) 400 THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('No such set: ', i_queue_name);
        RETURN;
    END IF;

    SELECT a.ret_code, a.ret_note INTO ret_code, ret_note
      FROM londiste.local_set_table_attrs(i_queue_name, i_table_name, i_table_attrs) a;
    IF ret_code OPERATOR(pg_catalog.<>) 200 THEN
        RETURN;
    END IF;

    SELECT COALESCE(t.dest_table, i_table_name) INTO v_dest
      FROM londiste.table_info t
     WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND t.table_name OPERATOR(pg_catalog.=) i_table_name
       AND t.local;
    IF v_dest OPERATOR(pg_catalog.=) i_table_name THEN
        v_desc := i_table_name;
    ELSE
        v_desc := pg_catalog.concat(i_table_name, '(', v_dest, ')');
    END IF;

    SELECT * INTO v_trg
      FROM londiste.create_trigger(i_queue_name, i_table_name, i_trg_args, v_dest,
                                   v_node.node_type);
    IF v_trg.ret_code OPERATOR(pg_catalog.>) 299 THEN
        ret_code := v_trg.ret_code;
        ret_note := pg_catalog.concat('Trigger creation failed for table ', v_desc, ': ',
                                      v_trg.ret_note);
    ELSIF v_trg.ret_code OPERATOR(pg_catalog.=) 201 THEN
        ret_code := 200;
        ret_note := pg_catalog.concat('Table handler updated with no triggers: ', v_desc);
    ELSE
        ret_code := 200;
        ret_note := pg_catalog.concat('Handler changed for table: ', v_desc);
    END IF;
END
$$ LANGUAGE plpgsql;

-- Unsubscribe this node from a table (on the root: remove it from the
-- queue).  A table left half-copied gets back what the copy dropped.
CREATE FUNCTION londiste.local_remove_table(i_queue_name text, i_table_name text,
                                            OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_table_name);
    v_qtable pg_catalog.text := londiste.quote_fqname(v_fq);
    v_oid pg_catalog.oid := londiste.find_table_oid(i_table_name);
    v_tbl record;
    v_seq pg_catalog.text;
BEGIN
    SELECT t.local, t.dropped_ddl INTO v_tbl
      FROM londiste.table_info t
     WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND t.table_name OPERATOR(pg_catalog.=) v_fq
       FOR UPDATE;
    IF NOT FOUND THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('Table not found: ', v_fq);
        RETURN;
    END IF;

    IF v_tbl.local THEN
        PERFORM londiste.drop_table_triggers(i_queue_name, v_fq);
        IF v_tbl.dropped_ddl IS NOT NULL THEN
            -- the copy was not finished: its rows are of no use, and
            -- indexes build faster on an empty table
            EXECUTE pg_catalog.format('TRUNCATE ONLY %s', v_qtable);
            EXECUTE v_tbl.dropped_ddl;
        END IF;
        UPDATE londiste.table_info
           SET local = false, custom_snapshot = NULL, table_attrs = NULL,
               dropped_ddl = NULL, merge_state = NULL, dest_table = NULL
         WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND table_name OPERATOR(pg_catalog.=) v_fq;
        -- the sequences of serial columns go with their table
        FOR v_seq IN
            SELECT pg_catalog.concat(sn.nspname, '.', s.relname)
              FROM pg_catalog.pg_attribute a
              JOIN pg_catalog.pg_class s
                ON s.oid OPERATOR(pg_catalog.=)
                   pg_catalog.pg_get_serial_sequence(v_qtable, a.attname)::pg_catalog.regclass::pg_catalog.oid
              JOIN pg_catalog.pg_namespace sn ON sn.oid OPERATOR(pg_catalog.=) s.relnamespace
             WHERE a.attrelid OPERATOR(pg_catalog.=) v_oid
               AND a.attnum OPERATOR(pg_catalog.>) 0
               AND a.atthasdef
               AND a.atttypid OPERATOR(pg_catalog.=) ANY ('{int4,int8}'::pg_catalog.regtype[])
        LOOP
            PERFORM londiste.local_remove_seq(i_queue_name, v_seq);
        END LOOP;
    ELSIF NOT pgq_node.is_root_node(i_queue_name) THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('Table not registered locally: ', v_fq);
        RETURN;
    END IF;

    IF pgq_node.is_root_node(i_queue_name) THEN
        PERFORM londiste.global_remove_table(i_queue_name, v_fq);
        PERFORM londiste.root_notify_change(i_queue_name, 'londiste.remove-table', v_fq);
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Table removed: ', v_fq);
END
$$ LANGUAGE plpgsql STRICT;

-- Make the table known to the queue (the root adds it, other nodes learn
-- of it from a londiste.add-table event), and to the queue this one is
-- combined into.  Notes echo the name as given, except for a table found
-- already.
CREATE FUNCTION londiste.global_add_table(i_queue_name text, i_table_name text,
                                          OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_table_name);
    v_combined pg_catalog.text;
    v_added integer;
BEGIN
    SELECT n.combined_queue INTO v_combined
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR UPDATE;
    IF NOT FOUND THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('No such queue: ', i_queue_name);
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM londiste.table_info t
                WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
                  AND t.table_name OPERATOR(pg_catalog.=) v_fq) THEN
        ret_code := 200;
        ret_note := pg_catalog.concat('Table already added: ', v_fq);
        RETURN;
    END IF;

    -- The worker's replay and an admin command may add the same table at
    -- once; the later one finds it added.
    INSERT INTO londiste.table_info (queue_name, table_name)
    VALUES (i_queue_name, v_fq)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_added = ROW_COUNT;
    IF v_added OPERATOR(pg_catalog.=) 0 THEN
        ret_code := 200;
        ret_note := pg_catalog.concat('Table already added: ', i_table_name);
        RETURN;
    END IF;
    IF v_combined IS NOT NULL THEN
        PERFORM londiste.global_add_table(v_combined, i_table_name);
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Table added: ', i_table_name);
END
$$ LANGUAGE plpgsql STRICT;

-- Forget a table of the queue (a londiste.remove-table event, or the
-- root's own removal); a subscribed non-root node unsubscribes first.
CREATE FUNCTION londiste.global_remove_table(i_queue_name text, i_table_name text,
                                             OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_table_name);
BEGIN
    IF NOT pgq_node.is_root_node(i_queue_name) THEN
        PERFORM londiste.local_remove_table(i_queue_name, v_fq);
    END IF;
    DELETE FROM londiste.table_info
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND table_name OPERATOR(pg_catalog.=) v_fq;
    IF NOT FOUND THEN
        ret_code := 400;
        ret_note := pg_catalog.concat('Table not found: ', v_fq);
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Table removed: ', i_table_name);
END
$$ LANGUAGE plpgsql STRICT;

-- Drop the queue's pgq triggers from the table's local copy: every trigger
-- calling a pgq capture function with this queue as first argument,
-- whatever its name.
CREATE FUNCTION londiste.drop_table_triggers(i_queue_name text, i_table_name text)
RETURNS void
AS $$
DECLARE
    v_dest pg_catalog.text;
    v_oid pg_catalog.oid;
    v_queue pg_catalog.bytea;
    v_trigger pg_catalog.text;
BEGIN
    SELECT COALESCE(t.dest_table, t.table_name) INTO v_dest
      FROM londiste.table_info t
     WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND t.table_name OPERATOR(pg_catalog.=) i_table_name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_oid := londiste.find_table_oid(v_dest);
    -- tgargs holds each argument in server encoding, NUL-terminated
    v_queue := pg_catalog.decode(pg_catalog.replace(i_queue_name, E'\\', E'\\\\'), 'escape')
               OPERATOR(pg_catalog.||) E'\\000'::pg_catalog.bytea;
    FOR v_trigger IN
        SELECT t.tgname
          FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid OPERATOR(pg_catalog.=) v_oid
           AND londiste.is_replica_func(t.tgfoid)
           AND pg_catalog.position(t.tgargs, v_queue) OPERATOR(pg_catalog.=) 1
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', v_trigger,
                                  londiste.quote_fqname(v_dest));
    END LOOP;
END
$$ LANGUAGE plpgsql STRICT;

-- A table_info row going away takes its triggers with it.
CREATE FUNCTION londiste.table_info_trigger()
RETURNS trigger
AS $$
BEGIN
    PERFORM londiste.drop_table_triggers(OLD.queue_name, OLD.table_name);
    RETURN OLD;
END
$$ LANGUAGE plpgsql;

-- Copy state of a local table (the worker's and the copy process's
-- progress through NULL, in-copy, catching-up, wanna-sync:<tick>,
-- do-sync:<tick> and ok), with the copy's snapshot.
CREATE FUNCTION londiste.local_set_table_state(i_queue_name text, i_table_name text,
                                               i_snapshot text, i_merge_state text,
                                               OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_fq pg_catalog.text := londiste.make_fqname(i_table_name);
BEGIN
    UPDATE londiste.table_info
       SET custom_snapshot = i_snapshot, merge_state = i_merge_state
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND table_name OPERATOR(pg_catalog.=) v_fq
       AND local;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := pg_catalog.concat('No such table: ', v_fq);
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Table ', v_fq, ' state set to ',
                                  COALESCE(pg_catalog.quote_literal(i_merge_state), 'NULL'));
END
$$ LANGUAGE plpgsql;

-- Handler settings of a local table; the name is used exactly as given.
CREATE FUNCTION londiste.local_set_table_attrs(i_queue_name text, i_table_name text,
                                               i_table_attrs text,
                                               OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    UPDATE londiste.table_info SET table_attrs = i_table_attrs
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND table_name OPERATOR(pg_catalog.=) i_table_name
       AND local;
    IF FOUND THEN
        ret_code := 200;
        ret_note := pg_catalog.concat(i_table_name, ': Table attributes stored');
    ELSE
        ret_code := 404;
        ret_note := pg_catalog.concat('no such local table: ', i_table_name);
    END IF;
END
$$ LANGUAGE plpgsql;

-- DDL the copy dropped and must re-create (NULL: nothing pending); the
-- name is used exactly as given.
CREATE FUNCTION londiste.local_set_table_struct(i_queue_name text, i_table_name text,
                                                i_dropped_ddl text,
                                                OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    UPDATE londiste.table_info SET dropped_ddl = i_dropped_ddl
     WHERE queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND table_name OPERATOR(pg_catalog.=) i_table_name
       AND local;
    IF FOUND THEN
        ret_code := 200;
        ret_note := 'Table struct stored';
    ELSE
        ret_code := 404;
        ret_note := pg_catalog.concat('no such local table: ', i_table_name);
    END IF;
END
$$ LANGUAGE plpgsql;

--
-- Foreign keys.  A copy drops the foreign keys from and to its table
-- (the rows of the other table may not be there yet); the worker restores
-- them once every table they connect is in sync.
--

-- Foreign keys from or to the table, with the statement re-creating each.
CREATE FUNCTION londiste.find_table_fkeys(i_table_name text)
RETURNS SETOF londiste.pending_fkeys
AS $$
DECLARE
    v_oid pg_catalog.oid := londiste.find_table_oid(i_table_name);
BEGIN
    RETURN QUERY
        SELECT pg_catalog.concat(fn.nspname, '.', f.relname),
               pg_catalog.concat(tn.nspname, '.', t.relname),
               c.conname::pg_catalog.text,
               pg_catalog.format('alter table only %I.%I add constraint %I %s',
                                 fn.nspname, f.relname, c.conname,
                                 pg_catalog.pg_get_constraintdef(c.oid))
          FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_class f ON f.oid OPERATOR(pg_catalog.=) c.conrelid
          JOIN pg_catalog.pg_namespace fn ON fn.oid OPERATOR(pg_catalog.=) f.relnamespace
          JOIN pg_catalog.pg_class t ON t.oid OPERATOR(pg_catalog.=) c.confrelid
          JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.relnamespace
         WHERE c.contype OPERATOR(pg_catalog.=) 'f'
           AND (c.conrelid OPERATOR(pg_catalog.=) v_oid
                OR c.confrelid OPERATOR(pg_catalog.=) v_oid)
         ORDER BY 1, 2, 3;
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- Drop a foreign key of the table, keeping it in pending_fkeys.  Returns 1,
-- or 0 if the table has no such foreign key.
CREATE FUNCTION londiste.drop_table_fkey(i_from_table text, i_fkey_name text)
RETURNS integer
AS $$
DECLARE
    v_fkey londiste.pending_fkeys;
BEGIN
    SELECT * INTO v_fkey
      FROM londiste.find_table_fkeys(i_from_table) k
     WHERE k.fkey_name OPERATOR(pg_catalog.=) i_fkey_name
       AND k.from_table OPERATOR(pg_catalog.=) i_from_table;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    INSERT INTO londiste.pending_fkeys (from_table, to_table, fkey_name, fkey_def)
    VALUES (v_fkey.from_table, v_fkey.to_table, i_fkey_name, v_fkey.fkey_def);
    EXECUTE pg_catalog.format('alter table only %s drop constraint %I',
                              londiste.quote_fqname(v_fkey.from_table), i_fkey_name);
    RETURN 1;
END
$$ LANGUAGE plpgsql STRICT;

-- Re-create a pending foreign key.  Returns '' when done or when there is
-- nothing pending under that name.
--
-- Lazily (i_lazy), the key is restored in steps the caller runs, each in
-- a transaction of its own, so that no long lock is held: the first call
-- returns the definition with "not valid" (checks new rows only), the
-- next one "validate constraint" (checks old rows without blocking
-- writes), the last one forgets the pending row and returns ''.
CREATE FUNCTION londiste.restore_table_fkey(i_from_table text, i_fkey_name text,
                                            i_lazy boolean DEFAULT false)
RETURNS text
AS $$
DECLARE
    v_fkey londiste.pending_fkeys;
    v_valid boolean;
BEGIN
    SELECT * INTO v_fkey
      FROM londiste.pending_fkeys k
     WHERE k.fkey_name OPERATOR(pg_catalog.=) i_fkey_name
       AND k.from_table OPERATOR(pg_catalog.=) i_from_table
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN '';
    END IF;

    IF i_lazy THEN
        SELECT c.convalidated INTO v_valid
          FROM pg_catalog.pg_constraint c
         WHERE c.contype OPERATOR(pg_catalog.=) 'f'
           AND c.conrelid OPERATOR(pg_catalog.=) londiste.find_table_oid(i_from_table)
           AND c.conname OPERATOR(pg_catalog.=) i_fkey_name::pg_catalog.name;
        IF NOT FOUND THEN
            RETURN pg_catalog.concat(v_fkey.fkey_def, ' not valid');
        ELSIF NOT v_valid THEN
            RETURN pg_catalog.format('alter table only %s validate constraint %I',
                                     londiste.quote_fqname(v_fkey.from_table),
                                     v_fkey.fkey_name);
        END IF;
    ELSE
        EXECUTE v_fkey.fkey_def;
    END IF;
    DELETE FROM londiste.pending_fkeys
     WHERE fkey_name OPERATOR(pg_catalog.=) v_fkey.fkey_name
       AND from_table OPERATOR(pg_catalog.=) v_fkey.from_table;
    RETURN '';
END
$$ LANGUAGE plpgsql STRICT;

-- Pending foreign keys from or to the table.
CREATE FUNCTION londiste.get_table_pending_fkeys(i_table_name text)
RETURNS SETOF londiste.pending_fkeys
AS $$
BEGIN
    RETURN QUERY
        SELECT k.*
          FROM londiste.pending_fkeys k
         WHERE k.from_table OPERATOR(pg_catalog.=) i_table_name
            OR k.to_table OPERATOR(pg_catalog.=) i_table_name
         ORDER BY 1, 2, 3;
END
$$ LANGUAGE plpgsql STRICT STABLE;

-- Pending foreign keys this queue's worker should restore now: both tables
-- are subscribed here, in sync in every queue that feeds them (state ok,
-- no copy snapshot left), one of them through this queue, and this queue
-- is the one that restores them, so that several workers of one database
-- do not race.  That is the first queue whose combined queue is a root,
-- else the combined branch queue, else the first queue.
CREATE FUNCTION londiste.get_valid_pending_fkeys(i_queue_name text)
RETURNS SETOF londiste.pending_fkeys
AS $$
BEGIN
    RETURN QUERY
        SELECT k.*
          FROM londiste.pending_fkeys k,
               LATERAL (
                   SELECT pg_catalog.count(*) AS total,
                          pg_catalog.count(*) FILTER (
                              WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name) AS mine,
                          pg_catalog.count(*) FILTER (
                              WHERE t.merge_state OPERATOR(pg_catalog.=) 'ok'
                                AND t.custom_snapshot IS NULL) AS synced
                     FROM londiste.table_info t
                    WHERE t.local
                      AND COALESCE(t.dest_table, t.table_name) OPERATOR(pg_catalog.=)
                              k.from_table) f,
               LATERAL (
                   SELECT pg_catalog.count(*) AS total,
                          pg_catalog.count(*) FILTER (
                              WHERE t.queue_name OPERATOR(pg_catalog.=) i_queue_name) AS mine,
                          pg_catalog.count(*) FILTER (
                              WHERE t.merge_state OPERATOR(pg_catalog.=) 'ok'
                                AND t.custom_snapshot IS NULL) AS synced
                     FROM londiste.table_info t
                    WHERE t.local
                      AND COALESCE(t.dest_table, t.table_name) OPERATOR(pg_catalog.=)
                              k.to_table) r
         WHERE f.total OPERATOR(pg_catalog.>) 0 AND f.synced OPERATOR(pg_catalog.=) f.total
           AND r.total OPERATOR(pg_catalog.>) 0 AND r.synced OPERATOR(pg_catalog.=) r.total
           AND (f.mine OPERATOR(pg_catalog.+) r.mine) OPERATOR(pg_catalog.>) 0
           AND i_queue_name OPERATOR(pg_catalog.=) (
                   SELECT COALESCE(
                              pg_catalog.min(t.queue_name) FILTER (
                                  WHERE c.node_type OPERATOR(pg_catalog.=) 'root'),
                              pg_catalog.min(c.queue_name) FILTER (
                                  WHERE c.node_type OPERATOR(pg_catalog.=) 'branch'),
                              pg_catalog.min(t.queue_name))
                     FROM londiste.table_info t
                     JOIN pgq_node.node_info n ON n.queue_name OPERATOR(pg_catalog.=) t.queue_name
                     LEFT JOIN pgq_node.node_info c
                       ON c.queue_name OPERATOR(pg_catalog.=) n.combined_queue
                    WHERE t.local
                      AND COALESCE(t.dest_table, t.table_name) OPERATOR(pg_catalog.=)
                              ANY (ARRAY[k.to_table, k.from_table]))
         ORDER BY k.from_table, k.to_table, k.fkey_name;
END
$$ LANGUAGE plpgsql STRICT STABLE;

--
-- EXECUTE: SQL scripts run on every node in queue order.
--

-- Record that a script is being run here.  201 if a script of that file
-- name ran already (in any queue): the caller skips it.
CREATE FUNCTION londiste.execute_start(i_queue_name text, i_file_name text,
                                       i_sql text, i_expect_root boolean,
                                       i_attrs text,
                                       OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_new integer;
BEGIN
    IF i_expect_root AND NOT pgq_node.is_root_node(i_queue_name) THEN
        ret_code := 401;
        ret_note := pg_catalog.concat('Node is not root node: ', i_queue_name);
        RETURN;
    END IF;
    -- the key also makes a concurrent run of the same file wait for us
    INSERT INTO londiste.applied_execute (queue_name, execute_file, execute_sql, execute_attrs)
    VALUES (i_queue_name, i_file_name, i_sql, i_attrs)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS v_new = ROW_COUNT;
    IF v_new OPERATOR(pg_catalog.=) 0 THEN
        ret_code := 201;
        ret_note := pg_catalog.concat('EXECUTE: "', i_file_name, '" already applied, skipping');
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Executing: ', i_file_name);
END
$$ LANGUAGE plpgsql;

CREATE FUNCTION londiste.execute_start(i_queue_name text, i_file_name text,
                                       i_sql text, i_expect_root boolean,
                                       OUT ret_code integer, OUT ret_note text)
AS $$
BEGIN
    SELECT e.ret_code, e.ret_note INTO ret_code, ret_note
      FROM londiste.execute_start(i_queue_name, i_file_name, i_sql, i_expect_root, NULL) e;
END
$$ LANGUAGE plpgsql;

-- The script has run.  On the root it is now queued for the other nodes
-- (each call queues it again).
CREATE FUNCTION londiste.execute_finish(i_queue_name text, i_file_name text,
                                        OUT ret_code integer, OUT ret_note text)
AS $$
DECLARE
    v_root boolean := pgq_node.is_root_node(i_queue_name);
    v_exec record;
BEGIN
    SELECT e.execute_sql, e.execute_attrs INTO v_exec
      FROM londiste.applied_execute e
     WHERE e.execute_file OPERATOR(pg_catalog.=) i_file_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'execute_file called without execute_start';
        RETURN;
    END IF;
    IF v_root THEN
        PERFORM pgq.insert_event(i_queue_name, 'EXECUTE', v_exec.execute_sql,
                                 i_file_name, v_exec.execute_attrs, NULL, NULL);
    END IF;
    ret_code := 200;
    ret_note := pg_catalog.concat('Execute finished: ', i_file_name);
END
$$ LANGUAGE plpgsql STRICT;

--
-- Maintenance.
--

-- Forget scripts run more than three months ago.  Returns 0: the ticker
-- repeats calls that return other numbers.
CREATE FUNCTION londiste.periodic_maintenance()
RETURNS integer
AS $$
BEGIN
    DELETE FROM londiste.applied_execute
     WHERE execute_time OPERATOR(pg_catalog.<)
           (pg_catalog.now() OPERATOR(pg_catalog.-) '3 months'::pg_catalog.interval);
    RETURN 0;
END
$$ LANGUAGE plpgsql;

-- Let the replication worker, which need not be a superuser, switch
-- session_replication_role: "replica" keeps ordinary triggers (such as
-- the capture triggers) from firing on replayed rows, "local" makes the
-- capture triggers ignore an EXECUTE script's changes.  For the session,
-- or (is_local) for the transaction.
CREATE FUNCTION londiste.set_session_replication_role(val text, is_local boolean)
RETURNS void
AS $$
BEGIN
    IF val IS NULL OR val OPERATOR(pg_catalog.<>) ALL ('{origin,replica,local}'::pg_catalog.text[]) THEN
        RAISE EXCEPTION 'bad value for session_replication_role';
    END IF;
    PERFORM pg_catalog.set_config('session_replication_role', val,
                                  COALESCE(is_local, false));
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

--
-- Partitions, for the worker's partitioning handlers: inheritance children
-- named <parent>_YYYY[_MM[_DD[_HH]]].
--

-- Create partition i_part of table i_table as a copy of the parent (columns,
-- defaults, constraints, indexes, owner, grants, triggers, rules) that
-- inherits from it.  With a partition field, add a CHECK constraint that
-- the field falls into the i_part_period ('hour', 'day', 'month', 'year')
-- containing i_part_time.  Returns 1, or 0 if i_part exists already.
CREATE FUNCTION londiste.create_partition(i_table text, i_part text, i_pkeys text,
                                          i_part_field text, i_part_time timestamptz,
                                          i_part_period text)
RETURNS integer
AS $$
DECLARE
    v_parent record;
    v_part record;
    v_qparent pg_catalog.text;
    v_qpart pg_catalog.text;
    v_parent_oid pg_catalog.oid;
    v_owner pg_catalog.name;
    v_start pg_catalog.timestamptz;
    v_grant record;
    v_object record;
    v_def pg_catalog.text;
    v_head pg_catalog.text;
    v_pos integer;
    v_rel pg_catalog.text;
BEGIN
    IF i_table IS NULL OR i_part IS NULL THEN
        RAISE EXCEPTION 'need table and part';
    END IF;
    v_parent := londiste.split_fqname(i_table);
    v_part := londiste.split_fqname(i_part);
    v_qparent := pg_catalog.format('%I.%I', v_parent.schema_part, v_parent.name_part);
    v_qpart := pg_catalog.format('%I.%I', v_part.schema_part, v_part.name_part);

    -- One creator at a time (workers of several queues may race for the
    -- same partition), without blocking the parent's writers.
    LOCK TABLE londiste.table_info IN SHARE UPDATE EXCLUSIVE MODE;

    v_parent_oid := v_qparent::pg_catalog.regclass;
    IF EXISTS (SELECT 1
                 FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                WHERE n.nspname OPERATOR(pg_catalog.=) v_part.schema_part::pg_catalog.name
                  AND c.relname OPERATOR(pg_catalog.=) v_part.name_part::pg_catalog.name) THEN
        RETURN 0;
    END IF;

    EXECUTE pg_catalog.format('CREATE TABLE %s (LIKE %s INCLUDING ALL) INHERITS (%s)',
                              v_qpart, v_qparent, v_qparent);

    SELECT r.rolname INTO v_owner
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.relowner
     WHERE c.oid OPERATOR(pg_catalog.=) v_parent_oid;
    IF v_owner OPERATOR(pg_catalog.<>) CURRENT_USER THEN
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', v_qpart, v_owner);
    END IF;

    IF i_part_field OPERATOR(pg_catalog.<>) '' THEN
        v_start := pg_catalog.date_trunc(i_part_period, i_part_time);
        EXECUTE pg_catalog.format(
            'ALTER TABLE %s ADD CHECK (%I >= %L AND %I < %L)',
            v_qpart,
            i_part_field, pg_catalog.to_char(v_start, 'YYYY-MM-DD HH24:MI:SS'),
            i_part_field, pg_catalog.to_char(
                v_start OPERATOR(pg_catalog.+)
                    pg_catalog.concat('1 ', i_part_period)::pg_catalog.interval,
                'YYYY-MM-DD HH24:MI:SS'));
    END IF;

    FOR v_grant IN
        SELECT a.grantee, a.privilege_type, a.is_grantable
          FROM pg_catalog.pg_class c,
               pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid OPERATOR(pg_catalog.=) v_parent_oid
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s',
                                  v_grant.privilege_type, v_qpart,
                                  CASE WHEN v_grant.grantee OPERATOR(pg_catalog.=) 0
                                       THEN 'PUBLIC'
                                       ELSE pg_catalog.quote_ident(
                                                pg_catalog.pg_get_userbyid(v_grant.grantee)::pg_catalog.text)
                                  END,
                                  CASE WHEN v_grant.is_grantable
                                       THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;

    -- Triggers and rules: their definitions name the parent schema-qualified
    -- and quoted, after ON (triggers) or TO (rules); that first occurrence
    -- after the object's own name is replaced by the partition, and the
    -- object gets the parent's enabled state.
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO v_rel
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) v_parent_oid;
    FOR v_object IN
        SELECT 'TRIGGER' AS kind, t.tgname AS name, t.tgenabled AS enabled,
               pg_catalog.pg_get_triggerdef(t.oid) AS def, ' ON ' AS target
          FROM pg_catalog.pg_trigger t
         WHERE t.tgrelid OPERATOR(pg_catalog.=) v_parent_oid
           AND NOT t.tgisinternal
        UNION ALL
        SELECT 'RULE', r.rulename, r.ev_enabled, pg_catalog.pg_get_ruledef(r.oid), ' TO '
          FROM pg_catalog.pg_rewrite r
         WHERE r.ev_class OPERATOR(pg_catalog.=) v_parent_oid
           AND r.rulename OPERATOR(pg_catalog.<>) '_RETURN'::pg_catalog.name
    LOOP
        v_head := pg_catalog.format('CREATE %s %I', v_object.kind, v_object.name);
        v_def := pg_catalog.substr(v_object.def, pg_catalog.length(v_head) OPERATOR(pg_catalog.+) 1);
        v_pos := pg_catalog.strpos(v_def, pg_catalog.concat(v_object.target, v_rel));
        IF pg_catalog.strpos(v_object.def, v_head) OPERATOR(pg_catalog.<>) 1
           OR v_pos OPERATOR(pg_catalog.=) 0 THEN
            IF v_object.kind OPERATOR(pg_catalog.=) 'RULE' THEN
                RAISE EXCEPTION 'failed to find original table name';
            END IF;
            RAISE EXCEPTION 'Failed to reconstruct the trigger: %', v_object.def;
        END IF;
        EXECUTE pg_catalog.concat(v_head,
                                  pg_catalog.substr(v_def, 1, v_pos OPERATOR(pg_catalog.-) 1),
                                  v_object.target, v_qpart,
                                  pg_catalog.substr(v_def, v_pos OPERATOR(pg_catalog.+)
                                                    pg_catalog.length(v_rel) OPERATOR(pg_catalog.+) 4));
        IF v_object.enabled OPERATOR(pg_catalog.<>) 'O' THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s %s %s %I', v_qpart,
                                      CASE
                                          WHEN v_object.enabled OPERATOR(pg_catalog.=) 'D' THEN 'DISABLE'
                                          WHEN v_object.enabled OPERATOR(pg_catalog.=) 'A' THEN 'ENABLE ALWAYS'
                                          ELSE 'ENABLE REPLICA'
                                      END,
                                      v_object.kind, v_object.name);
        END IF;
    END LOOP;
    RETURN 1;
END
$$ LANGUAGE plpgsql;

-- Whether partition i_partition_table, named <base>_<date> by
-- i_partition_period, lies wholly before now() - i_retention_period.
-- NULL if the name does not end in such a date.
CREATE FUNCTION londiste.is_obsolete_partition(i_partition_table text,
                                               i_retention_period interval,
                                               i_partition_period text)
RETURNS boolean
AS $$
DECLARE
    v_suffix pg_catalog.text;
    v_format pg_catalog.text;
    v_base pg_catalog.text;
BEGIN
    CASE
        WHEN i_partition_period OPERATOR(pg_catalog.=) ANY ('{year,yearly}'::pg_catalog.text[]) THEN
            v_suffix := '_[0-9]{4}';
            v_format := '_YYYY';
        WHEN i_partition_period OPERATOR(pg_catalog.=) ANY ('{month,monthly}'::pg_catalog.text[]) THEN
            v_suffix := '_[0-9]{4}_[0-9]{2}';
            v_format := '_YYYY_MM';
        WHEN i_partition_period OPERATOR(pg_catalog.=) ANY ('{day,daily}'::pg_catalog.text[]) THEN
            v_suffix := '_[0-9]{4}_[0-9]{2}_[0-9]{2}';
            v_format := '_YYYY_MM_DD';
        WHEN i_partition_period OPERATOR(pg_catalog.=) ANY ('{hour,hourly}'::pg_catalog.text[]) THEN
            v_suffix := '_[0-9]{4}_[0-9]{2}_[0-9]{2}_[0-9]{2}';
            v_format := '_YYYY_MM_DD_HH24';
        ELSE
            RAISE EXCEPTION 'not supported i_partition_period: %', i_partition_period;
    END CASE;

    v_base := pg_catalog.substring(i_partition_table,
                                   pg_catalog.concat('^(.+)', v_suffix, '$'));
    IF v_base IS NULL THEN
        RETURN NULL;
    END IF;
    -- the dates sort as text
    RETURN i_partition_table OPERATOR(pg_catalog.<)
           pg_catalog.concat(v_base, pg_catalog.to_char(
               pg_catalog.now() OPERATOR(pg_catalog.-) i_retention_period, v_format));
END
$$ LANGUAGE plpgsql;

-- Quoted names of the partitions of i_parent_table ("schema.table") that
-- is_obsolete_partition calls obsolete, in name order.
CREATE FUNCTION londiste.list_obsolete_partitions(i_parent_table text,
                                                  i_retention_period interval,
                                                  i_partition_period text)
RETURNS SETOF text
AS $$
DECLARE
    v_parent record := londiste.split_fqname(i_parent_table);
    v_pattern pg_catalog.text;
BEGIN
    v_pattern := pg_catalog.concat('^', v_parent.name_part, '_[0-9]{4}',
                     CASE WHEN i_partition_period OPERATOR(pg_catalog.=) ANY
                                   ('{month,monthly,day,daily,hour,hourly}'::pg_catalog.text[])
                          THEN '_[0-9]{2}' END,
                     CASE WHEN i_partition_period OPERATOR(pg_catalog.=) ANY
                                   ('{day,daily,hour,hourly}'::pg_catalog.text[])
                          THEN '_[0-9]{2}' END,
                     CASE WHEN i_partition_period OPERATOR(pg_catalog.=) ANY
                                   ('{hour,hourly}'::pg_catalog.text[])
                          THEN '_[0-9]{2}' END,
                     '$');
    -- rejects an unknown period even when there is no partition
    PERFORM londiste.is_obsolete_partition(i_parent_table, i_retention_period,
                                           i_partition_period);
    RETURN QUERY
        SELECT pg_catalog.format('%I.%I', t.schemaname, t.tablename)
          FROM pg_catalog.pg_tables t
         WHERE t.schemaname OPERATOR(pg_catalog.=) v_parent.schema_part::pg_catalog.name
           AND t.tablename::pg_catalog.text OPERATOR(pg_catalog.~) v_pattern
           AND londiste.is_obsolete_partition(t.tablename, i_retention_period,
                                              i_partition_period)
         ORDER BY 1;
END
$$ LANGUAGE plpgsql;

-- Drop what list_obsolete_partitions lists; returns the names dropped.
CREATE FUNCTION londiste.drop_obsolete_partitions(i_parent_table text,
                                                  i_retention_period interval,
                                                  i_partition_period text)
RETURNS SETOF text
AS $$
DECLARE
    v_part pg_catalog.text;
BEGIN
    FOR v_part IN
        SELECT l.p FROM londiste.list_obsolete_partitions(i_parent_table, i_retention_period,
                                                          i_partition_period) l(p)
    LOOP
        EXECUTE pg_catalog.format('DROP TABLE %s', v_part);
        RETURN NEXT v_part;
    END LOOP;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER table_info_trigger_sync BEFORE DELETE ON londiste.table_info
    FOR EACH ROW EXECUTE FUNCTION londiste.table_info_trigger();
