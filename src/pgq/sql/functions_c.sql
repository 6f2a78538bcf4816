-- Functions implemented in C (src/pgq/*.c): event insertion, ticking,
-- batch selection and retry.  Security-definer functions pin search_path so
-- that a caller's own operators or tables cannot be picked up by the SQL
-- they run as the extension owner.  The one exception is the 7-argument
-- insert_event: it runs no SQL at all (direct heap insert, objects found by
-- OID), and a SET clause would cost a GUC change on every event.

-- insert.c
CREATE FUNCTION pgq.insert_event_raw(
    queue_name text, ev_id bigint, ev_time timestamptz,
    ev_owner integer, ev_retry integer, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_insert_event_raw'
LANGUAGE C;

CREATE FUNCTION pgq.insert_event(
    queue_name text, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_insert_event'
LANGUAGE C SECURITY DEFINER;

-- Name of the event table this transaction should write into, unquoted
-- ("pgq.event_2_0"), for clients that COPY or INSERT into it directly.
-- In C, so that it can take the txid and read the queue row with a fresh
-- snapshot, as an insert does.
CREATE FUNCTION pgq.current_event_table(x_queue_name text)
RETURNS text
AS 'MODULE_PATHNAME', 'pgq_current_event_table'
LANGUAGE C;

-- tick.c
CREATE FUNCTION pgq.ticker(
    i_queue_name text, i_tick_id bigint, i_orig_timestamp timestamptz,
    i_event_seq bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_ticker_external'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq.ticker(i_queue_name text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_ticker_queue'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq.ticker()
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_ticker_all'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- batch.c
CREATE FUNCTION pgq.next_batch_custom(
    in i_queue_name text, in i_consumer_name text,
    in i_min_lag interval, in i_min_count int4, in i_min_interval interval,
    out batch_id int8,
    out cur_tick_id int8, out prev_tick_id int8,
    out cur_tick_time timestamptz, out prev_tick_time timestamptz,
    out cur_tick_event_seq int8, out prev_tick_event_seq int8)
AS 'MODULE_PATHNAME', 'pgq_next_batch_custom'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq.get_batch_events(
    in x_batch_id bigint,
    out ev_id bigint, out ev_time timestamptz, out ev_txid bigint,
    out ev_retry int4, out ev_type text, out ev_data text,
    out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_get_batch_events'
LANGUAGE C;

CREATE FUNCTION pgq.get_batch_cursor(
    in i_batch_id bigint, in i_cursor_name text, in i_quick_limit int4,
    in i_extra_where text,
    out ev_id bigint, out ev_time timestamptz, out ev_txid bigint,
    out ev_retry int4, out ev_type text, out ev_data text,
    out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_get_batch_cursor'
LANGUAGE C;

CREATE FUNCTION pgq.get_batch_cursor(
    in i_batch_id bigint, in i_cursor_name text, in i_quick_limit int4,
    out ev_id bigint, out ev_time timestamptz, out ev_txid bigint,
    out ev_retry int4, out ev_type text, out ev_data text,
    out ev_extra1 text, out ev_extra2 text, out ev_extra3 text, out ev_extra4 text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgq_get_batch_cursor'
LANGUAGE C STRICT;

CREATE FUNCTION pgq.batch_event_sql(x_batch_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'pgq_batch_event_sql'
LANGUAGE C;

CREATE FUNCTION pgq.batch_event_tables(x_batch_id bigint)
RETURNS SETOF text
AS 'MODULE_PATHNAME', 'pgq_batch_event_tables'
LANGUAGE C;

-- retry.c
CREATE FUNCTION pgq.event_retry(
    x_batch_id bigint, x_event_id bigint, x_retry_time timestamptz)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgq_event_retry_at'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq.event_retry(
    x_batch_id bigint, x_event_id bigint, x_retry_seconds integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgq_event_retry_in'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq.batch_retry(i_batch_id bigint, i_retry_seconds integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgq_batch_retry'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
