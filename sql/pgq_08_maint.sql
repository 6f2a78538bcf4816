--
-- Maintenance: table rotation (maint_rotate_tables_step1/step2, quirk Q5)
-- with and without lagging consumers, maint_operations,
-- maint_tables_to_vacuum, upgrade_schema and get_queue_info
-- (pgq-api.md 4.4, 4.7, 6.6, 6.8).  Errors are followed by their SQLSTATE.
--
-- Rotation is made due by moving queue_switch_time back instead of
-- waiting for queue_rotation_period.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select count(*) as queues_before from pgq.queue \gset
-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 80000) > 0 as batch_ids_set;

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

-- make the queue's rotation due: the last switch was longer ago than the
-- rotation period
create function pg_temp.make_due(q text) returns void
language sql
as $$
    update pgq.queue
       set queue_switch_time = now() - queue_rotation_period - interval '1 minute'
     where queue_name = q;
$$;

-- where the queue stands: current table, rotation confirmed (step2 set),
-- rotated within the last minute
create function pg_temp.rotation_state(q text)
returns table (cur_table int, confirmed bool, switched_recently bool)
language sql
as $$
    select queue_cur_table, queue_switch_step2 is not null,
           queue_switch_time > now() - interval '1 minute'
      from pgq.queue where queue_name = q;
$$;

-- the events held by each event table of the queue
create function pg_temp.events_by_table(q text)
returns table (tbl int, events text)
language plpgsql
as $$
declare
    v_pfx text;
    v_ntables int;
begin
    select queue_data_pfx, queue_ntables into v_pfx, v_ntables
      from pgq.queue where queue_name = q;
    return query execute format(
        'select n, (select string_agg(e.ev_data, '','' order by e.ev_id)
                      from %1$s e
                     where e.tableoid = (%2$L || ''_'' || n)::regclass)
           from generate_series(0, $1 - 1) n order by n',
        v_pfx, v_pfx) using v_ntables;
end
$$;

create function pg_temp.tick_ids(qname text) returns bigint[]
language sql
as $$
    select array_agg(t.tick_id order by t.tick_id)
      from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
     where q.queue_name = qname;
$$;

-- read and finish every available batch of a consumer: one row per batch
create function pg_temp.consume_all(q text, c text)
returns table (prev_tick bigint, cur_tick bigint, events text)
language plpgsql
as $$
declare
    b record;
begin
    loop
        select * into b from pgq.next_batch_info(q, c);
        exit when b.batch_id is null;
        prev_tick := b.prev_tick_id;
        cur_tick := b.cur_tick_id;
        select string_agg(e.ev_data, ',' order by e.ev_id) into events
          from pgq.get_batch_events(b.batch_id) e;
        return next;
        perform pgq.finish_batch(b.batch_id);
    end loop;
end
$$;

--
-- get_queue_info: the settings of pgq.queue plus ticker_lag, ev_per_sec,
-- ev_new and last_tick_id
--
select pg_temp.setup_queue('qmaint_info');
select queue_id as info_id from pgq.queue where queue_name = 'qmaint_info' \gset
select queue_name, queue_ntables, queue_cur_table, queue_rotation_period,
       queue_switch_time <= now() as switch_time_ok,
       queue_external_ticker, queue_ticker_paused, queue_ticker_max_count,
       queue_ticker_max_lag, queue_ticker_idle_period,
       ticker_lag >= '0' as ticker_lag_ok, ev_per_sec, ev_new, last_tick_id
  from pgq.get_queue_info('qmaint_info');
-- the columns copy pgq.queue
select (i.queue_ntables, i.queue_cur_table, i.queue_rotation_period, i.queue_switch_time,
        i.queue_external_ticker, i.queue_ticker_paused, i.queue_ticker_max_count,
        i.queue_ticker_max_lag, i.queue_ticker_idle_period)
       = (q.queue_ntables, q.queue_cur_table, q.queue_rotation_period, q.queue_switch_time,
          q.queue_external_ticker, q.queue_ticker_paused, q.queue_ticker_max_count,
          q.queue_ticker_max_lag, q.queue_ticker_idle_period) as copies_queue_row
  from pgq.get_queue_info('qmaint_info') i, pgq.queue q
 where q.queue_name = i.queue_name;
-- ev_new: event ids issued since the latest tick
select pgq.insert_event('qmaint_info', 'ev', 'one') > 0 as inserted;
select ev_new, last_tick_id from pgq.get_queue_info('qmaint_info');
select pgq.insert_event('qmaint_info', 'ev', 'two') > 0 as inserted;
select pgq.insert_event('qmaint_info', 'ev', 'three') > 0 as inserted;
select ev_new, last_tick_id from pgq.get_queue_info('qmaint_info');
select pgq.ticker('qmaint_info');
select ev_new, last_tick_id from pgq.get_queue_info('qmaint_info');
-- 23 more ticks (every ticker call ticks with no lag allowed)
select pgq.set_queue_config('qmaint_info', 'ticker_max_lag', '0');
select pgq.set_queue_config('qmaint_info', 'ticker_idle_period', '0');
do $$
begin
    for i in 1 .. 23 loop
        perform pgq.ticker('qmaint_info');
    end loop;
end
$$;
select ev_new, last_tick_id from pgq.get_queue_info('qmaint_info');
-- ticker_lag is the age of the latest tick; ev_per_sec compares the latest
-- tick (25) with the lowest one not more than 20 ids below it (5).  With
-- tick n made 2 * (25 - n) + 10 seconds ago at event sequence n * n:
-- (625 - 25) events in 40 seconds
begin;
update pgq.tick
   set tick_time = now() - (2 * (25 - tick_id) + 10) * interval '1 second',
       tick_event_seq = tick_id * tick_id
 where tick_queue = :info_id;
select ticker_lag, ev_per_sec, last_tick_id from pgq.get_queue_info('qmaint_info');
-- with fewer ticks the lowest one is used
delete from pgq.tick where tick_queue = :info_id and tick_id < 20;
select ticker_lag, ev_per_sec, last_tick_id from pgq.get_queue_info('qmaint_info');
-- no older tick to compare with: NULL
update pgq.tick set tick_time = now() - interval '10 seconds'
 where tick_queue = :info_id and tick_id = 20;
select ticker_lag, ev_per_sec from pgq.get_queue_info('qmaint_info');
delete from pgq.tick where tick_queue = :info_id and tick_id < 25;
select ticker_lag, ev_per_sec, last_tick_id from pgq.get_queue_info('qmaint_info');
-- without any tick the queue is still listed, with NULL tick columns
delete from pgq.tick where tick_queue = :info_id;
select queue_name, ticker_lag, ev_per_sec, ev_new, last_tick_id
  from pgq.get_queue_info('qmaint_info');
rollback;
-- all queues by name (NULL or no argument); unknown queue: no rows
select pg_temp.setup_queue('qmaint_info0');
select queue_name from pgq.get_queue_info() where queue_name like 'qmaint%';
select queue_name from pgq.get_queue_info(null) where queue_name like 'qmaint%';
select count(*) from pgq.get_queue_info('qmaint_nosuch');
select pgq.drop_queue('qmaint_info');
select pgq.drop_queue('qmaint_info0');

--
-- Rotation of a queue without consumers: every due step 1 rotates.
-- Tables are used in turn 0, 1, 2, 0, ...; the one becoming current is
-- the oldest, and it is emptied.
--
select pg_temp.setup_queue('qmaint_rot');
select queue_data_pfx as rot_pfx from pgq.queue where queue_name = 'qmaint_rot' \gset
select pgq.insert_event('qmaint_rot', 'ev', 'e0') > 0 as inserted;
select pgq.ticker('qmaint_rot');
select * from pg_temp.rotation_state('qmaint_rot');

-- not due: nothing happens, and step 1 returns 0 as always (quirk Q5)
select pgq.maint_rotate_tables_step1('qmaint_rot');
select * from pg_temp.rotation_state('qmaint_rot');
-- due only once the period has fully passed
begin;
update pgq.queue set queue_switch_time = now() - queue_rotation_period
 where queue_name = 'qmaint_rot';
select pgq.maint_rotate_tables_step1('qmaint_rot');
select * from pg_temp.rotation_state('qmaint_rot');
rollback;
-- the period is the queue's own
select pgq.set_queue_config('qmaint_rot', 'rotation_period', '10 minutes');
update pgq.queue set queue_switch_time = now() - interval '9 minutes'
 where queue_name = 'qmaint_rot';
select pgq.maint_rotate_tables_step1('qmaint_rot');
select * from pg_temp.rotation_state('qmaint_rot');

-- rotation 1: table 1 becomes current; step1 records this transaction,
-- step2 is cleared until confirmed
update pgq.queue set queue_switch_time = now() - interval '11 minutes'
 where queue_name = 'qmaint_rot';
begin;
select pgq.maint_rotate_tables_step1('qmaint_rot');
select queue_cur_table, queue_switch_step1 = txid_current() as step1_is_this_tx,
       queue_switch_step2, queue_switch_time = now() as switched_now
  from pgq.queue where queue_name = 'qmaint_rot';
commit;
select * from pg_temp.events_by_table('qmaint_rot');
select pg_temp.generic_name(pgq.current_event_table('qmaint_rot')) as current_table;
select queue_cur_table from pgq.get_queue_info('qmaint_rot');
-- no ticks are older than the queue's creation
select pg_temp.tick_ids('qmaint_rot');

-- unconfirmed: step 1 does nothing, even when due again
select pg_temp.make_due('qmaint_rot');
select pgq.maint_rotate_tables_step1('qmaint_rot');
select * from pg_temp.rotation_state('qmaint_rot');
-- maint_operations lists no step 1 for it, but step 2 to confirm it
select * from pgq.maint_operations() where func_name like 'pgq.maint_rotate%';
update pgq.queue set queue_switch_time = now() where queue_name = 'qmaint_rot';

-- step 2 does not confirm it from a transaction that already had a txid,
-- which may have been taken before the rotation committed
begin;
select txid_current() is not null as has_txid;
select pgq.maint_rotate_tables_step2();
select queue_switch_step2 is null as unconfirmed
  from pgq.queue where queue_name = 'qmaint_rot';
commit;

-- step 2, in a later transaction, confirms it with its own txid; it
-- touches only unconfirmed queues and returns 0
begin;
select pgq.maint_rotate_tables_step2();
select queue_switch_step2 = txid_current() as step2_is_this_tx
  from pgq.queue where queue_name = 'qmaint_rot';
commit;
select queue_switch_step2 as confirmed_step2 from pgq.queue where queue_name = 'qmaint_rot' \gset
select pgq.maint_rotate_tables_step2();
select queue_switch_step2 = :confirmed_step2 as step2_unchanged
  from pgq.queue where queue_name = 'qmaint_rot';

-- inserts go to table 1 now
select pgq.insert_event('qmaint_rot', 'ev', 'e1') > 0 as inserted;
select pgq.ticker('qmaint_rot');
select * from pg_temp.events_by_table('qmaint_rot');

-- rotation 2: table 2.  Ticks made before the previous rotation was
-- confirmed (1 and 2) are deleted.
select pg_temp.make_due('qmaint_rot');
select pgq.maint_rotate_tables_step1('qmaint_rot');
select pgq.maint_rotate_tables_step2();
select * from pg_temp.rotation_state('qmaint_rot');
select pg_temp.tick_ids('qmaint_rot');
select pgq.insert_event('qmaint_rot', 'ev', 'e2') > 0 as inserted;
select pgq.ticker('qmaint_rot');
select * from pg_temp.events_by_table('qmaint_rot');

-- rotation 3: back to table 0, which is emptied (e0 is gone); tick 3 goes
select pg_temp.make_due('qmaint_rot');
select pgq.maint_rotate_tables_step1('qmaint_rot');
select pgq.maint_rotate_tables_step2();
select * from pg_temp.rotation_state('qmaint_rot');
select * from pg_temp.events_by_table('qmaint_rot');
select pg_temp.tick_ids('qmaint_rot');
select pgq.insert_event('qmaint_rot', 'ev', 'e3') > 0 as inserted;
select pgq.ticker('qmaint_rot');

-- rotation 4: table 1 again, e1 is gone
select pg_temp.make_due('qmaint_rot');
select pgq.maint_rotate_tables_step1('qmaint_rot');
select pgq.maint_rotate_tables_step2();
select * from pg_temp.rotation_state('qmaint_rot');
select * from pg_temp.events_by_table('qmaint_rot');
select pg_temp.tick_ids('qmaint_rot');
select pg_temp.generic_name(pgq.current_event_table('qmaint_rot')) as current_table;
select pgq.drop_queue('qmaint_rot');

--
-- Lagging consumers hold rotation back: step 1 skips while the lowest
-- consumer position is a tick whose snapshot does not yet see the
-- transaction that confirmed the previous rotation, so no table a
-- consumer may still read is truncated.
--
select pg_temp.setup_queue('qmaint_lag');
select pgq.register_consumer('qmaint_lag', 'qmaint_fast');
select pgq.register_consumer('qmaint_lag', 'qmaint_slow');
select pgq.insert_event('qmaint_lag', 'ev', 'l0-1') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');

-- qmaint_slow is still on tick 1, made by the queue's creation: step 1
-- is due, listed by maint_operations, and skipped
select pg_temp.make_due('qmaint_lag');
select * from pgq.maint_operations() where func_arg = 'qmaint_lag';
select pgq.maint_rotate_tables_step1('qmaint_lag');
select * from pg_temp.rotation_state('qmaint_lag');

-- once it has caught up, the queue rotates
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_slow');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select pgq.maint_rotate_tables_step2();
select * from pg_temp.rotation_state('qmaint_lag');

-- qmaint_slow stops on tick 2 (made before this rotation was confirmed),
-- and a third consumer registers on it too
select pgq.register_consumer('qmaint_lag', 'qmaint_stopped');
select consumer_name, last_tick from pgq.get_consumer_info('qmaint_lag')
 order by consumer_name collate "C";
select pgq.insert_event('qmaint_lag', 'ev', 'l1-1') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select pgq.insert_event('qmaint_lag', 'ev', 'l1-2') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');

-- three rounds of maintenance, each with new events that qmaint_fast
-- consumes: without the check the third would truncate table 1
select pg_temp.make_due('qmaint_lag');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select pgq.maint_rotate_tables_step2();
select pgq.insert_event('qmaint_lag', 'ev', 'try-1') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');
select * from pg_temp.rotation_state('qmaint_lag');
select pg_temp.make_due('qmaint_lag');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select pgq.maint_rotate_tables_step2();
select pgq.insert_event('qmaint_lag', 'ev', 'try-2') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');
select * from pg_temp.rotation_state('qmaint_lag');
select pg_temp.make_due('qmaint_lag');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select pgq.maint_rotate_tables_step2();
select pgq.insert_event('qmaint_lag', 'ev', 'try-3') > 0 as inserted;
select pgq.ticker('qmaint_lag');
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');
-- nothing was rotated, truncated or deleted
select * from pg_temp.rotation_state('qmaint_lag');
select * from pg_temp.events_by_table('qmaint_lag');
select pg_temp.tick_ids('qmaint_lag');

-- qmaint_slow's next batch spans the rotation and reads both tables; a
-- batch starting after the confirmation reads only the current one
select prev_tick_id, cur_tick_id from pgq.next_batch_info('qmaint_lag', 'qmaint_slow');
select pg_temp.generic_name(t) as slow_batch_tables
  from pgq.batch_event_tables(pgq.next_batch('qmaint_lag', 'qmaint_slow')) t;
-- (qmaint_fast goes back to tick 4 for this, and reads on from there)
select pgq.register_consumer_at('qmaint_lag', 'qmaint_fast', 4);
select prev_tick_id, cur_tick_id from pgq.next_batch_info('qmaint_lag', 'qmaint_fast');
select pg_temp.generic_name(t) as fast_batch_tables
  from pgq.batch_event_tables(pgq.next_batch('qmaint_lag', 'qmaint_fast')) t;
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_fast');
-- qmaint_slow gets every event
select * from pg_temp.consume_all('qmaint_lag', 'qmaint_slow');

-- qmaint_stopped still holds rotation back
select pg_temp.make_due('qmaint_lag');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select * from pg_temp.rotation_state('qmaint_lag');
-- consumers without a position (idle pgq_coop subconsumers) do not count
insert into pgq.consumer (co_name) values ('qmaint_fast.sub');
insert into pgq.subscription (sub_id, sub_queue, sub_consumer, sub_last_tick)
select s.sub_id, s.sub_queue, (select co_id from pgq.consumer where co_name = 'qmaint_fast.sub'), null
  from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where c.co_name = 'qmaint_fast'
   and s.sub_queue = (select queue_id from pgq.queue where queue_name = 'qmaint_lag');
-- unregistering the stopped consumer lets the rotation through: table 2,
-- ticks made before the previous confirmation (1 and 2) are deleted
select pgq.unregister_consumer('qmaint_lag', 'qmaint_stopped');
select pgq.maint_rotate_tables_step1('qmaint_lag');
select pgq.maint_rotate_tables_step2();
select * from pg_temp.rotation_state('qmaint_lag');
select * from pg_temp.events_by_table('qmaint_lag');
select pg_temp.tick_ids('qmaint_lag');
select pgq.drop_queue('qmaint_lag', true);

--
-- Step 1 errors: unknown and NULL queues, a transaction id counter behind
-- the last rotation, a consumer positioned on a missing tick
--
select pgq.maint_rotate_tables_step1('qmaint_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.maint_rotate_tables_step1(null);
\echo SQLSTATE :SQLSTATE
select pg_temp.setup_queue('qmaint_err');
select queue_id as err_id, queue_switch_step1 as err_step1
  from pgq.queue where queue_name = 'qmaint_err' \gset
-- (txids in the message vary, so only the SQLSTATE is shown)
update pgq.queue set queue_switch_step1 = txid_current() + 1000000
 where queue_name = 'qmaint_err';
select pg_temp.make_due('qmaint_err');
\set VERBOSITY sqlstate
select pgq.maint_rotate_tables_step1('qmaint_err');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
-- not checked while no rotation is due
update pgq.queue set queue_switch_time = now() where queue_name = 'qmaint_err';
select pgq.maint_rotate_tables_step1('qmaint_err');
update pgq.queue set queue_switch_step1 = :err_step1 where queue_name = 'qmaint_err';
select pgq.register_consumer('qmaint_err', 'qmaint_c');
select pgq.insert_event('qmaint_err', 'ev', 'x') > 0 as inserted;
select pgq.ticker('qmaint_err');
delete from pgq.tick where tick_queue = :err_id and tick_id = 1;
select pg_temp.make_due('qmaint_err');
select pgq.maint_rotate_tables_step1('qmaint_err');
\echo SQLSTATE :SQLSTATE
select * from pg_temp.rotation_state('qmaint_err');
select pgq.drop_queue('qmaint_err', true);

--
-- maint_operations: step 1 for each due queue by name, step 2 once, the
-- queues' extra maintenance functions, vacuum, then the companions' jobs
--
create table public.qmaint_calls (func text, arg text);
create function public.qmaint_extra_a(i_queue text) returns integer
language sql as $$ insert into public.qmaint_calls values ('qmaint_extra_a', i_queue); select 0 $$;
create function public.qmaint_extra_b(i_queue text) returns integer
language sql as $$ insert into public.qmaint_calls values ('qmaint_extra_b', i_queue); select 0 $$;
select pg_temp.setup_queue('qmaint_ops_b');
select pg_temp.setup_queue('qmaint_ops_a');
select pg_temp.setup_queue('qmaint_ops_c');
-- nothing due, nothing unconfirmed
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
-- extra maintenance functions, in array order
update pgq.queue set queue_extra_maint = array['public.qmaint_extra_b', 'public.qmaint_extra_a']
 where queue_name = 'qmaint_ops_b';
update pgq.queue set queue_extra_maint = array['public.qmaint_extra_a']
 where queue_name = 'qmaint_ops_a';
update pgq.queue set queue_extra_maint = '{}' where queue_name = 'qmaint_ops_c';
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
-- due queues: step 1 for each, then step 2
select pg_temp.make_due('qmaint_ops_c');
select pg_temp.make_due('qmaint_ops_a');
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
-- run them the way pgqd does, each in its own transaction: vacuum rows
-- as VACUUM, the others as select func(arg) (repeated while they return
-- non-zero; all of these return 0)
select case when func_arg is null then format('select %s()', func_name)
            else format('select %s(%L)', func_name, func_arg) end as call
  from pgq.maint_operations()
 where func_name <> 'vacuum' and (func_arg like 'qmaint%' or func_arg is null) \gexec
select * from public.qmaint_calls;
select queue_name, queue_cur_table, queue_switch_step2 is not null as confirmed
  from pgq.queue where queue_name like 'qmaint_ops%' order by queue_name collate "C";
select * from pgq.maint_operations() where func_name like 'pgq.maint_rotate%';
drop table public.qmaint_calls;
drop function public.qmaint_extra_a(text), public.qmaint_extra_b(text);

-- companion extensions: rows only where the function pgqd would call
-- exists as part of an installed extension
create schema pgq_node;
create table pgq_node.node_info (queue_name text primary key, node_type text not null);
insert into pgq_node.node_info values ('qmaint_ops_b', 'root'), ('qmaint_ops_a', 'branch'),
                                      ('qmaint_ops_x', 'root');
create schema londiste;
create table londiste.seq_info (nr serial, queue_name text, seq_name text, local boolean);
insert into londiste.seq_info (queue_name, seq_name, local) values
    ('qmaint_ops_b', 'public.s1', true), ('qmaint_ops_b', 'public.s2', true),
    ('qmaint_ops_a', 'public.s3', true), ('qmaint_ops_x', 'public.s4', false);
-- tables alone are not enough
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
create function pgq_node.maint_watermark(i_queue text) returns integer
language sql as $$ select 0 $$;
create function londiste.root_check_seqs(i_queue text) returns integer
language sql as $$ select 0 $$;
create function londiste.periodic_maintenance() returns integer
language sql as $$ select 0 $$;
-- functions of that name are not enough either: a schema squatted by
-- anybody must not get its code run by the ticker
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
-- they must belong to an installed extension (here pgq stands in for
-- pgq_node and londiste)
alter extension pgq add function pgq_node.maint_watermark(text);
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
alter extension pgq add function londiste.root_check_seqs(text);
alter extension pgq add function londiste.periodic_maintenance();
select * from pgq.maint_operations() where func_arg like 'qmaint%' or func_arg is null;
select pgq.drop_queue('qmaint_ops_a');
select pgq.drop_queue('qmaint_ops_b');
select pgq.drop_queue('qmaint_ops_c');

--
-- maint_tables_to_vacuum: nothing while autovacuum is on; otherwise the
-- pgq tables and the companions' busy tables that exist.  Event tables are
-- never listed (they are truncated by rotation).
--
select current_setting('autovacuum') as autovacuum;
select * from pgq.maint_tables_to_vacuum();
create table pgq_node.local_state (x int);
create schema pgq_ext;
create table pgq_ext.completed_tick (x int);
create table pgq_ext.partial_batch (x int);
create table londiste.completed (x int);
alter system set autovacuum = off;
select pg_reload_conf();
select pg_sleep(0.2);
\c
\set SHOW_CONTEXT never
set client_min_messages = warning;
select current_setting('autovacuum') as autovacuum;
select pgq.create_queue('qmaint_vac');
select * from pgq.maint_tables_to_vacuum() t order by t collate "C";
select count(*) as event_tables_listed
  from pgq.maint_tables_to_vacuum() t where t like 'pgq.event%';
-- vacuum rows come after the extra maintenance and before the companions
update pgq.queue set queue_extra_maint = array['public.qmaint_vac_fn']
 where queue_name = 'qmaint_vac';
select * from pgq.maint_operations()
 where func_arg like 'qmaint%' or func_arg is null or func_name = 'vacuum';
alter system reset autovacuum;
select pg_reload_conf();
select pg_sleep(0.2);
\c
\set SHOW_CONTEXT never
set client_min_messages = warning;
select current_setting('autovacuum') as autovacuum;
select * from pgq.maint_tables_to_vacuum();
select pgq.drop_queue('qmaint_vac');
alter extension pgq drop function pgq_node.maint_watermark(text);
alter extension pgq drop function londiste.root_check_seqs(text);
alter extension pgq drop function londiste.periodic_maintenance();
drop schema pgq_node, pgq_ext, londiste cascade;

--
-- upgrade_schema: repairs an older layout and returns 0 either way
--
select pgq.upgrade_schema();
begin;
alter table pgq.subscription alter column sub_last_tick set not null;
alter table pgq.queue drop column queue_extra_maint;
select pgq.upgrade_schema();
select attnotnull as sub_last_tick_not_null
  from pg_attribute
 where attrelid = 'pgq.subscription'::regclass and attname = 'sub_last_tick';
select format_type(atttypid, atttypmod) as queue_extra_maint_type
  from pg_attribute
 where attrelid = 'pgq.queue'::regclass and attname = 'queue_extra_maint'
   and not attisdropped;
-- and is harmless when run again
select pgq.upgrade_schema();
rollback;
select attnum = (select max(attnum) from pg_attribute where attrelid = 'pgq.queue'::regclass)
       as extra_maint_is_last
  from pg_attribute
 where attrelid = 'pgq.queue'::regclass and attname = 'queue_extra_maint';

select count(*) = :queues_before as queues_restored from pgq.queue;
select count(*) as consumers_left from pgq.consumer where co_name like 'qmaint%';
