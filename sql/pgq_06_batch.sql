--
-- Batches: next_batch, next_batch_info, next_batch_custom with
-- find_tick_helper, get_batch_info, get_batch_events, get_batch_cursor,
-- batch_event_sql, batch_event_tables (across a table rotation) and
-- finish_batch (pgq-api.md 4.3-4.5, 4.7, 4.9, 6.4, 6.6).  Errors are
-- followed by their SQLSTATE.
--
-- Everything runs in one session: a producer transaction that is still
-- open when a tick is taken is simulated by adding its txid to the tick's
-- snapshot (real concurrency is covered by the isolation tests).
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select count(*) as queues_before from pgq.queue \gset
-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 60000) > 0 as batch_ids_set;

-- Queue ids depend on earlier tests: show event table names with the id
-- replaced by N.
create function pg_temp.generic_name(name text) returns text
language sql immutable
as $$ select regexp_replace($1, 'event_[0-9]+', 'event_N', 'g') $$;

-- tick exactly when events arrive
create function pg_temp.setup_queue(q text) returns void
language sql
as $$
    select pgq.create_queue(q);
    select pgq.set_queue_config(q, 'ticker_max_count', '1');
    select pgq.set_queue_config(q, 'ticker_max_lag', '1 hour');
    select pgq.set_queue_config(q, 'ticker_idle_period', '1 hour');
$$;

create function pg_temp.tick_time(q text, t bigint) returns timestamptz
language sql stable
as $$
    select tick_time from pgq.tick
     where tick_queue = (select queue_id from pgq.queue where queue_name = q)
       and tick_id = t
$$;

-- the snapshot as if transaction tx had still been running when it was taken
create function pg_temp.add_running(snap txid_snapshot, tx bigint) returns txid_snapshot
language sql immutable
as $$
    select (least(txid_snapshot_xmin(snap), tx) || ':' || txid_snapshot_xmax(snap) || ':'
            || (select string_agg(x::text, ',' order by x)
                  from (select txid_snapshot_xip(snap) union select tx) s(x)))::txid_snapshot
$$;

-- every batch of a consumer until it has caught up, one row per event
-- (ev_id NULL for an empty batch)
create function pg_temp.consume_all(q text, c text)
returns table (batch_id bigint, prev_tick bigint, cur_tick bigint,
               ev_id bigint, ev_retry int4, ev_data text)
language plpgsql
as $$
declare
    b record;
    e record;
    n integer;
begin
    loop
        select * into b from pgq.next_batch_info(q, c);
        exit when b.batch_id is null;
        batch_id := b.batch_id;
        prev_tick := b.prev_tick_id;
        cur_tick := b.cur_tick_id;
        n := 0;
        for e in select * from pgq.get_batch_events(b.batch_id) loop
            ev_id := e.ev_id;
            ev_retry := e.ev_retry;
            ev_data := e.ev_data;
            n := n + 1;
            return next;
        end loop;
        if n = 0 then
            ev_id := null;
            ev_retry := null;
            ev_data := null;
            return next;
        end if;
        perform pgq.finish_batch(b.batch_id);
    end loop;
end
$$;

select pg_temp.setup_queue('qbatch_main');
select queue_id as qm_id from pgq.queue where queue_name = 'qbatch_main' \gset
-- all events of the queue, from every event table
do $$
begin
    execute format('create temp view qbatch_events as'
                   ' select tableoid::regclass::text as tbl, * from %s',
                   (select queue_data_pfx from pgq.queue where queue_name = 'qbatch_main'));
end
$$;
select pgq.register_consumer('qbatch_main', 'qbatch_a');
select pgq.register_consumer('qbatch_main', 'qbatch_b');

--
-- No tick after the consumer's position: no batch, a row of NULLs in the
-- documented column order
--
select pgq.next_batch('qbatch_main', 'qbatch_a');
select * from pgq.next_batch_info('qbatch_main', 'qbatch_a');
select * from pgq.next_batch_custom('qbatch_main', 'qbatch_a', null, null, null);
select current_batch, next_tick from pgq.get_consumer_info('qbatch_main', 'qbatch_a');

--
-- next_batch_info opens a batch from the position to the next tick
--
select pgq.insert_event('qbatch_main', 'a', '1');
select pgq.insert_event('qbatch_main', 'b', '2', 'x1', 'x2', 'x3', 'x4');
select pgq.ticker('qbatch_main');
begin;
select batch_id, cur_tick_id, prev_tick_id,
       cur_tick_time = pg_temp.tick_time('qbatch_main', cur_tick_id) as cur_time_ok,
       prev_tick_time = pg_temp.tick_time('qbatch_main', prev_tick_id) as prev_time_ok,
       cur_tick_event_seq, prev_tick_event_seq
  from pgq.next_batch_info('qbatch_main', 'qbatch_a');
-- the subscription records the open batch and the consumer was seen now
select sub_batch, sub_last_tick, sub_next_tick, sub_active = now() as active_now
  from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where s.sub_queue = :qm_id and c.co_name = 'qbatch_a';
commit;

-- until it is finished, every form hands out the same batch, whatever the
-- arguments and even after more ticks
select pgq.next_batch('qbatch_main', 'qbatch_a');
select batch_id, cur_tick_id, prev_tick_id, cur_tick_event_seq, prev_tick_event_seq
  from pgq.next_batch_info('qbatch_main', 'qbatch_a');
select batch_id, cur_tick_id, prev_tick_id
  from pgq.next_batch_custom('qbatch_main', 'qbatch_a', '1 day', 1000, '1 day');
select pgq.insert_event('qbatch_main', 'c', '3');
select pgq.ticker('qbatch_main');
select pgq.next_batch('qbatch_main', 'qbatch_a');
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qbatch_main', 'qbatch_a');

--
-- get_batch_events: the ten columns in order, the batch's events by ev_id
--
select * from pgq.get_batch_events(60001) limit 0;
select e.ev_id, e.ev_time = v.ev_time as time_ok, e.ev_txid = v.ev_txid as txid_ok,
       e.ev_retry, e.ev_type, e.ev_data, e.ev_extra1, e.ev_extra2, e.ev_extra3, e.ev_extra4
  from pgq.get_batch_events(60001) e left join qbatch_events v on v.ev_id = e.ev_id;
-- reading does not change the batch
select pgq.next_batch('qbatch_main', 'qbatch_a');

--
-- get_batch_info: every column
--
select queue_name, consumer_name,
       batch_start = pg_temp.tick_time('qbatch_main', 1) as start_is_tick_1,
       batch_end = pg_temp.tick_time('qbatch_main', 2) as end_is_tick_2,
       prev_tick_id, tick_id,
       lag = now() - pg_temp.tick_time('qbatch_main', 2) as lag_ok,
       seq_start, seq_end
  from pgq.get_batch_info(60001);
-- lag is measured from the end tick
update pgq.tick set tick_time = tick_time - interval '1 day'
 where tick_queue = :qm_id and tick_id = 2;
select lag >= interval '1 day' as lag_from_end_tick,
       batch_end = pg_temp.tick_time('qbatch_main', 2) as end_is_tick_2
  from pgq.get_batch_info(60001);
-- unknown batches give one row of NULLs, no error
select * from pgq.get_batch_info(69999);
select * from pgq.get_batch_info(null);

--
-- finish_batch: 1, then a WARNING and 0 once the batch is finished
--
begin;
select pgq.finish_batch(60001);
select sub_batch, sub_last_tick, sub_next_tick, sub_active = now() as active_now
  from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where s.sub_queue = :qm_id and c.co_name = 'qbatch_a';
commit;
select pgq.finish_batch(60001);
select pgq.finish_batch(69999);
-- no subscription has a NULL batch open either
select pgq.finish_batch(null);
select * from pgq.get_batch_info(60001);
-- the next batch goes from tick 2 to tick 3
select batch_id, prev_tick_id, cur_tick_id from pgq.next_batch_info('qbatch_main', 'qbatch_a');
select ev_id, ev_type, ev_data from pgq.get_batch_events(60002);
select pgq.finish_batch(60002);
select pgq.next_batch('qbatch_main', 'qbatch_a');

--
-- Empty batches: a rolled-back insert still makes the ticker tick (the id
-- was issued) but its event is never delivered; the batch is empty and
-- must still be finished
--
begin;
select pgq.insert_event('qbatch_main', 'rolled', 'back');
rollback;
select pgq.ticker('qbatch_main');
select batch_id, prev_tick_id, cur_tick_id from pgq.next_batch_info('qbatch_main', 'qbatch_a');
select count(*) as events from pgq.get_batch_events(60003);
select pgq.finish_batch(60003);

--
-- A transaction still running when a tick is taken: its event belongs to
-- the first batch whose end tick sees the transaction as finished
--
select pgq.insert_event('qbatch_main', 'slow', 'slow tx') as slow_id \gset
select ev_txid as slow_txid from qbatch_events where ev_id = :slow_id \gset
select pgq.insert_event('qbatch_main', 'quick', 'quick 1');
select pgq.ticker('qbatch_main');
update pgq.tick set tick_snapshot = pg_temp.add_running(tick_snapshot, :slow_txid)
 where tick_queue = :qm_id and tick_id = 5;
select pgq.insert_event('qbatch_main', 'quick', 'quick 2');
select pgq.ticker('qbatch_main');
update pgq.tick set tick_snapshot = pg_temp.add_running(tick_snapshot, :slow_txid)
 where tick_queue = :qm_id and tick_id = 6;
select pgq.insert_event('qbatch_main', 'quick', 'quick 3');
select pgq.ticker('qbatch_main');
select tick_id, txid_visible_in_snapshot(:slow_txid, tick_snapshot) as slow_tx_visible
  from pgq.tick where tick_queue = :qm_id and tick_id between 4 and 7 order by tick_id;
-- running at tick 5 (excluded from 4..5), still running at tick 6
-- (excluded from 5..6), finished at tick 7 (delivered in 6..7)
select * from pg_temp.consume_all('qbatch_main', 'qbatch_a');

--
-- A consumer gets the events its start tick does not see: one committed
-- after the latest tick but before the registration is delivered
--
select pgq.insert_event('qbatch_main', 'reg', 'before tick');
select pgq.ticker('qbatch_main');
select pgq.insert_event('qbatch_main', 'reg', 'before register');
select pgq.register_consumer('qbatch_main', 'qbatch_late');
select last_tick from pgq.get_consumer_info('qbatch_main', 'qbatch_late');
select pgq.insert_event('qbatch_main', 'reg', 'after register');
select pgq.ticker('qbatch_main');
select * from pg_temp.consume_all('qbatch_main', 'qbatch_late');
select * from pg_temp.consume_all('qbatch_main', 'qbatch_a');

--
-- ev_owner and ev_retry: an event owned by a subscription is seen only by
-- that subscription; ev_retry is passed through
--
select s.sub_id as sub_a
  from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where s.sub_queue = :qm_id and c.co_name = 'qbatch_a' \gset
select pgq.insert_event_raw('qbatch_main', null, now(), :sub_a, 2, 'owned', 'for a',
                            null, null, null, null);
select pgq.insert_event_raw('qbatch_main', null, now(), -1, 1, 'owned', 'for nobody',
                            null, null, null, null);
select pgq.insert_event_raw('qbatch_main', null, now(), null, 5, 'free', 'retry count only',
                            null, null, null, null);
select pgq.ticker('qbatch_main');
select * from pg_temp.consume_all('qbatch_main', 'qbatch_a');
select * from pg_temp.consume_all('qbatch_main', 'qbatch_late');

-- qbatch_b never finished anything yet: it walks every tick one batch at a
-- time and sees every event except the owned ones
select * from pg_temp.consume_all('qbatch_main', 'qbatch_b');
select pgq.next_batch('qbatch_main', 'qbatch_b');

--
-- next_batch_custom and find_tick_helper
--
select pg_temp.setup_queue('qbatch_custom');
select queue_id as qc_id from pgq.queue where queue_name = 'qbatch_custom' \gset
select pgq.register_consumer('qbatch_custom', 'qbatch_c');
-- ticks 2, 3 and 4 after 1, 3 and 2 events, ten minutes apart
select pgq.insert_event('qbatch_custom', 'x', 'one', 'k1', null, null, null);
select pgq.ticker('qbatch_custom');
select pgq.insert_event('qbatch_custom', 'y', 'two', null, null, null, null);
select pgq.insert_event('qbatch_custom', 'y', 'three', 'k1', null, null, null);
select pgq.insert_event('qbatch_custom', 'y', 'four', 'k2', null, null, null);
select pgq.ticker('qbatch_custom');
select pgq.insert_event('qbatch_custom', 'z', 'five', null, null, null, null);
select pgq.insert_event('qbatch_custom', 'z', 'six', 'k1', null, null, null);
select pgq.ticker('qbatch_custom');
update pgq.tick set tick_time = now() - (70 - 10 * tick_id) * interval '1 minute'
 where tick_queue = :qc_id;
select tick_id, tick_event_seq,
       tick_time - pg_temp.tick_time('qbatch_custom', 1) as since_tick_1
  from pgq.tick where tick_queue = :qc_id order by tick_id;

-- find_tick_helper from tick 1: the latest tick (4) is 6 events and 30
-- minutes away.  It is taken if it meets a criterion; if it overshoots one
-- by more than twice, the first tick meeting any criterion is taken.
select c.min_count, c.min_interval, h.next_tick_id, h.next_tick_seq,
       h.next_tick_time = pg_temp.tick_time('qbatch_custom', h.next_tick_id) as time_ok
  from (values (null::int8, null::interval),
               (10, null), (7, null), (6, null), (3, null), (2, null), (1, null),
               (null, '45 minutes'), (null, '31 minutes'), (null, '30 minutes'),
               (null, '15 minutes'), (null, '14 minutes'), (null, '10 minutes'),
               (10, '20 minutes'), (7, '45 minutes'), (2, '45 minutes'),
               (100, '12 minutes'), (100, '1 minute')) c(min_count, min_interval),
       lateral pgq.find_tick_helper(:qc_id, 1, pg_temp.tick_time('qbatch_custom', 1), 0,
                                    c.min_count, c.min_interval) h;
-- measured from the start tick given (tick 2: seq 1, 20 minutes to tick 4)
select c.min_count, c.min_interval, h.next_tick_id, h.next_tick_seq
  from (values (2::int8, null::interval), (3, null), (6, null),
               (null, '5 minutes'), (null, '20 minutes')) c(min_count, min_interval),
       lateral pgq.find_tick_helper(:qc_id, 2, pg_temp.tick_time('qbatch_custom', 2), 1,
                                    c.min_count, c.min_interval) h;
-- no tick after the start tick, or an unknown queue: NULLs
select * from pgq.find_tick_helper(:qc_id, 4, pg_temp.tick_time('qbatch_custom', 4), 6, 1, '1 second');
select * from pgq.find_tick_helper(-1, 0, now(), 0, 1, '1 second');

-- i_min_lag: the candidate (next) tick must be at least that old
select * from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', '51 minutes', null, null);
select batch_id, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', '49 minutes', null, null);
select pgq.register_consumer_at('qbatch_custom', 'qbatch_c', 1);
-- i_min_count / i_min_interval go through find_tick_helper
select batch_id, prev_tick_id, cur_tick_id, cur_tick_event_seq, prev_tick_event_seq
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', null, 3, null);
select pgq.register_consumer_at('qbatch_custom', 'qbatch_c', 1);
select batch_id, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', null, 2, null);
select pgq.register_consumer_at('qbatch_custom', 'qbatch_c', 1);
select batch_id, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', null, null, '14 minutes');
select pgq.register_consumer_at('qbatch_custom', 'qbatch_c', 1);
select * from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', null, 10, '45 minutes');
-- with i_min_lag, applied to the tick find_tick_helper chose
select * from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', '31 minutes', 3, null);
select batch_id, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', '29 minutes', 3, null);
-- an open batch is returned whatever the criteria
select batch_id, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_custom', 'qbatch_c', '1 year', 1000, '1 year');
select pgq.next_batch('qbatch_custom', 'qbatch_c');
-- a batch over several ticks holds all their events
select ev_id, ev_type, ev_data, ev_extra1 from pgq.get_batch_events(60025);
select prev_tick_id, tick_id, seq_start, seq_end,
       batch_end - batch_start as span
  from pgq.get_batch_info(60025);

--
-- get_batch_cursor: the first rows come back directly, the caller FETCHes
-- the rest from the named cursor and closes it
--
create function pg_temp.fetch_from(cur refcursor, n integer)
returns table (ev_id bigint, ev_type text, ev_data text)
language plpgsql
as $$
declare
    r record;
begin
    for i in 1 .. n loop
        fetch cur into r;
        exit when not found;
        ev_id := r.ev_id;
        ev_type := r.ev_type;
        ev_data := r.ev_data;
        return next;
    end loop;
end
$$;
select * from pgq.get_batch_cursor(60025, 'qbatch_cols', 0) limit 0;
begin;
select ev_id, ev_type, ev_data from pgq.get_batch_cursor(60025, 'qbatch_cur', 2, null);
fetch 1 from qbatch_cur \gset f_
select :f_ev_id as ev_id, :'f_ev_type' as ev_type, :'f_ev_data' as ev_data;
select * from pg_temp.fetch_from('qbatch_cur', 2);
fetch 1 from qbatch_cur \gset f_
select :f_ev_id as ev_id, :'f_ev_type' as ev_type, :'f_ev_data' as ev_data;
fetch all from qbatch_cur;
close qbatch_cur;
-- the name can be used again once closed
select ev_id, ev_type, ev_data from pgq.get_batch_cursor(60025, 'qbatch_cur', 4);
select * from pg_temp.fetch_from('qbatch_cur', 10);
close qbatch_cur;
commit;

-- quick_limit 0 or below returns nothing and leaves the cursor at the start
begin;
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_cur', 0);
select * from pg_temp.fetch_from('qbatch_cur', 10);
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_cur2', -1, null);
select count(*) from pg_temp.fetch_from('qbatch_cur2', 10);
-- a quick_limit above the batch size returns everything
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_cur3', 100);
fetch all from qbatch_cur3;
commit;

-- the cursor is NO SCROLL, and its name is an identifier taken as is
begin;
select ev_id from pgq.get_batch_cursor(60025, 'Qbatch Cursor', 3, null);
select * from pg_temp.fetch_from('Qbatch Cursor', 10);
fetch all from "Qbatch Cursor";
fetch backward 1 from "Qbatch Cursor";
\echo SQLSTATE :SQLSTATE
rollback;

-- a name already in use
begin;
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_cur', 1);
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_cur', 1);
\echo SQLSTATE :SQLSTATE
rollback;

-- the cursor lives until the end of the transaction
select count(*) from pgq.get_batch_cursor(60025, 'qbatch_auto', 10);
close qbatch_auto;
\echo SQLSTATE :SQLSTATE

-- i_extra_where filters on the event columns
begin;
select ev_id, ev_type, ev_data
  from pgq.get_batch_cursor(60025, 'qbatch_where', 1, 'ev_type = ''y''');
select * from pg_temp.fetch_from('qbatch_where', 10);
close qbatch_where;
select ev_id, ev_extra1, ev_data
  from pgq.get_batch_cursor(60025, 'qbatch_where', 10, 'ev_extra1 = ''k1'' and ev_id > 1');
close qbatch_where;
select ev_id from pgq.get_batch_cursor(60025, 'qbatch_where', 10, 'false');
close qbatch_where;
commit;

-- NULL batch id, cursor name or quick_limit: no rows and no cursor
begin;
select count(*) from pgq.get_batch_cursor(null, 'qbatch_null', 10, null);
select count(*) from pgq.get_batch_cursor(60025, null, 10, null);
select count(*) from pgq.get_batch_cursor(60025, 'qbatch_null', null, null);
select count(*) from pgq.get_batch_cursor(null, 'qbatch_null', 10);
select count(*) from pgq.get_batch_cursor(60025, 'qbatch_null', null);
select count(*) from pg_cursors where name = 'qbatch_null';
commit;

--
-- batch_event_sql: a standalone query ending in " order by 1" that returns
-- the batch's events, and works with pgq_reader's privileges
--
create function pg_temp.batch_sql_view(b bigint) returns void
language plpgsql
as $$
begin
    execute 'create or replace temp view qbatch_sql as ' || pgq.batch_event_sql(b);
end
$$;
select right(pgq.batch_event_sql(60025), 11) = ' order by 1' as has_order_suffix;
select pg_temp.batch_sql_view(60025);
select attname from pg_attribute
 where attrelid = 'qbatch_sql'::regclass and attnum > 0 order by attnum;
select ev_id, ev_type, ev_data from qbatch_sql;
create function pg_temp.run_batch_sql(b bigint)
returns table (ev_id bigint, ev_type text, ev_data text)
language plpgsql
as $$
begin
    return query execute 'select ev_id, ev_type, ev_data from ('
                         || pgq.batch_event_sql(b) || ') s';
end
$$;
set role pgq_reader;
select * from pg_temp.run_batch_sql(60025);
select ev_id, ev_data from pgq.get_batch_events(60025) where ev_id > 4;
reset role;
select pgq.finish_batch(60025);

--
-- batch_event_tables and a rotation (4.4, 4.7)
--
select pg_temp.setup_queue('qbatch_rot');
select queue_id as qr_id from pgq.queue where queue_name = 'qbatch_rot' \gset
do $$
begin
    execute format('create temp view qbatch_rot_events as'
                   ' select tableoid::regclass::text as tbl, * from %s',
                   (select queue_data_pfx from pgq.queue where queue_name = 'qbatch_rot'));
end
$$;
select pgq.register_consumer('qbatch_rot', 'qbatch_r1');
select pgq.register_consumer('qbatch_rot', 'qbatch_r2');
select pgq.insert_event('qbatch_rot', 'rot', 'e1');
select pgq.ticker('qbatch_rot');
-- the first batch starts at the tick create_queue took in the transaction
-- that set queue_switch_step2, so its start xmin is not above step2: both
-- the previous and the current table are read
select pgq.next_batch('qbatch_rot', 'qbatch_r1');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60026) t;
select pgq.finish_batch(60026);
select pgq.next_batch('qbatch_rot', 'qbatch_r2');
select pgq.finish_batch(60027);
-- afterwards only the current table
select pgq.insert_event('qbatch_rot', 'rot', 'e2');
select pgq.ticker('qbatch_rot');
select pgq.next_batch('qbatch_rot', 'qbatch_r1');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60028) t;
select pgq.finish_batch(60028);
-- qbatch_r2 keeps this batch open over the rotation
select pgq.next_batch('qbatch_rot', 'qbatch_r2');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60029) t;

-- rotate: step 1 switches inserts to the next table, step 2 (a later
-- transaction) confirms the switch
select pgq.insert_event('qbatch_rot', 'rot', 'e3');
update pgq.queue set queue_switch_time = now() - interval '1 day' where queue_id = :qr_id;
select pgq.maint_rotate_tables_step1('qbatch_rot');
select queue_cur_table, queue_switch_step2 is null as step2_pending
  from pgq.queue where queue_id = :qr_id;
select pgq.insert_event('qbatch_rot', 'rot', 'e4');
-- the open batch ended before the rotation: the previous table only
select pg_temp.generic_name(t) from pgq.batch_event_tables(60029) t;
select ev_id, ev_data from pgq.get_batch_events(60029);
select pgq.maint_rotate_tables_step2();
select queue_cur_table, queue_switch_step2 > queue_switch_step1 as step2_done
  from pgq.queue where queue_id = :qr_id;
select pgq.insert_event('qbatch_rot', 'rot', 'e5');
select pgq.ticker('qbatch_rot');
select pg_temp.generic_name(tbl) as tbl, ev_id, ev_data from qbatch_rot_events order by ev_id;
-- a batch spanning the rotation reads both tables, previous first
select pgq.next_batch('qbatch_rot', 'qbatch_r1');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60030) t;
select ev_id, ev_data from pgq.get_batch_events(60030);
select pg_temp.batch_sql_view(60030);
select ev_id, ev_data from qbatch_sql;
select pgq.finish_batch(60030);
select pgq.finish_batch(60029);
select pgq.next_batch('qbatch_rot', 'qbatch_r2');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60031) t;
select ev_id, ev_data from pgq.get_batch_events(60031);
select pgq.finish_batch(60031);
-- a batch starting after the confirmed switch reads the current table only
select pgq.insert_event('qbatch_rot', 'rot', 'e6');
select pgq.ticker('qbatch_rot');
select pgq.next_batch('qbatch_rot', 'qbatch_r1');
select pg_temp.generic_name(t) from pgq.batch_event_tables(60032) t;
select ev_id, ev_data from pgq.get_batch_events(60032);
select pgq.finish_batch(60032);

--
-- Errors
--
-- unknown queue (said as such), unknown consumer, a consumer of another
-- queue, NULLs
select pgq.next_batch('qbatch_nosuch', 'qbatch_a');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch('qbatch_main', 'qbatch_nobody');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch('qbatch_main', 'qbatch_c');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch(null, 'qbatch_a');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch('qbatch_main', null);
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_info('qbatch_nosuch', 'qbatch_a');
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_info('qbatch_main', 'qbatch_nobody');
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_info(null, null);
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_custom('qbatch_nosuch', 'qbatch_a', null, null, null);
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_custom('qbatch_main', 'qbatch_nobody', null, 1, null);
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_custom(null, 'qbatch_a', null, null, null);
\echo SQLSTATE :SQLSTATE
select * from pgq.next_batch_custom('qbatch_main', null, null, null, null);
\echo SQLSTATE :SQLSTATE
-- the consumer's position refers to a tick that no longer exists
select pgq.insert_event('qbatch_custom', 'x', 'seven');
select pgq.ticker('qbatch_custom');
delete from pgq.tick where tick_queue = :qc_id and tick_id = 4;
select pgq.next_batch('qbatch_custom', 'qbatch_c');
\echo SQLSTATE :SQLSTATE
select current_batch from pgq.get_consumer_info('qbatch_custom', 'qbatch_c');

-- unknown, finished and NULL batch ids
select * from pgq.get_batch_events(69999);
\echo SQLSTATE :SQLSTATE
select * from pgq.get_batch_events(60001);
\echo SQLSTATE :SQLSTATE
select * from pgq.get_batch_events(null);
\echo SQLSTATE :SQLSTATE
select * from pgq.get_batch_cursor(69999, 'qbatch_err', 10, null);
\echo SQLSTATE :SQLSTATE
select * from pgq.get_batch_cursor(60001, 'qbatch_err', 10);
\echo SQLSTATE :SQLSTATE
select pgq.batch_event_sql(69999);
\echo SQLSTATE :SQLSTATE
select pgq.batch_event_sql(60001);
\echo SQLSTATE :SQLSTATE
select pgq.batch_event_sql(null);
\echo SQLSTATE :SQLSTATE
select * from pgq.batch_event_tables(69999);
\echo SQLSTATE :SQLSTATE
select * from pgq.batch_event_tables(60001);
\echo SQLSTATE :SQLSTATE
select * from pgq.batch_event_tables(null);
\echo SQLSTATE :SQLSTATE

--
-- Intervals too long to measure in microseconds (about 300,000 years and
-- more): an i_min_lag or i_min_interval that long is never reached, one
-- that far negative always, and doubling i_min_interval must not overflow.
-- The queue's two ticks are 2000 and 1000 years old.
--
select pg_temp.setup_queue('qbatch_long');
select queue_id as ql_id from pgq.queue where queue_name = 'qbatch_long' \gset
select pgq.register_consumer('qbatch_long', 'qbatch_l');
select pgq.insert_event('qbatch_long', 'x', 'old');
select pgq.ticker('qbatch_long');
update pgq.tick set tick_time = now() - (3 - tick_id) * interval '1000 years'
 where tick_queue = :ql_id;
select * from pgq.next_batch_custom('qbatch_long', 'qbatch_l', '300000 years', null, null);
select * from pgq.next_batch_custom('qbatch_long', 'qbatch_l', '178000000 years', null, null);
select * from pgq.next_batch_custom('qbatch_long', 'qbatch_l', null, null, '100000000 years');
select c.min_interval, h.next_tick_id
  from (values ('999 years'::interval), ('300000 years'), ('100000000 years'),
               ('-100000000 years')) c(min_interval),
       lateral pgq.find_tick_helper(:ql_id, 1, pg_temp.tick_time('qbatch_long', 1), 0,
                                    null, c.min_interval) h;
select batch_id is not null as has_batch, prev_tick_id, cur_tick_id
  from pgq.next_batch_custom('qbatch_long', 'qbatch_l', '-300000 years', null, null);

drop view qbatch_events, qbatch_rot_events, qbatch_sql;
select pgq.drop_queue('qbatch_main', true);
select pgq.drop_queue('qbatch_custom', true);
select pgq.drop_queue('qbatch_rot', true);
select pgq.drop_queue('qbatch_long', true);
select count(*) = :queues_before as queues_restored from pgq.queue;
select count(*) as consumers_left from pgq.consumer where co_name like 'qbatch%';
