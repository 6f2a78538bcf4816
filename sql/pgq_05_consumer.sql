--
-- Consumers: register_consumer, register_consumer_at, unregister_consumer
-- (including pgq_coop-style subconsumer rows, quirk Q4), name validation
-- and get_consumer_info (pgq-api.md 4.9, 6.3, 6.6).  Errors are followed
-- by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 50000) > 0 as batch_ids_set;

-- tick exactly when events arrive
create function pg_temp.setup_queue(q text) returns void
language sql
as $$
    select pgq.create_queue(q);
    select pgq.set_queue_config(q, 'ticker_max_count', '1');
    select pgq.set_queue_config(q, 'ticker_max_lag', '1 hour');
    select pgq.set_queue_config(q, 'ticker_idle_period', '1 hour');
$$;
select pg_temp.setup_queue('qcons_main');

--
-- register_consumer: 1 for a new registration, 0 if already registered
--
select pgq.register_consumer('qcons_main', 'qcons_early');
select pgq.register_consumer('qcons_main', 'qcons_early');
select consumer_name, last_tick, current_batch, next_tick, pending_events
  from pgq.get_consumer_info('qcons_main', 'qcons_early');

-- events committed before a registration are not seen by that consumer
select pgq.insert_event('qcons_main', 'ev', 'one');
select pgq.ticker('qcons_main');
select pgq.register_consumer('qcons_main', 'qcons_late');
select pgq.insert_event('qcons_main', 'ev', 'two');
select pgq.ticker('qcons_main');
select consumer_name, last_tick, pending_events
  from pgq.get_consumer_info('qcons_main', null) order by consumer_name collate "C";

-- register_consumer_at an older tick: that tick is the start position
select pgq.register_consumer_at('qcons_main', 'qcons_rewound', 1);
select pgq.register_consumer_at('qcons_main', 'qcons_latest', null);

create function pg_temp.consume_all(q text, c text)
returns table (batch_id bigint, prev_tick bigint, cur_tick bigint, ev_data text)
language plpgsql
as $$
declare
    b record;
    e record;
begin
    loop
        select * into b from pgq.next_batch_info(q, c);
        exit when b.batch_id is null;
        batch_id := b.batch_id;
        prev_tick := b.prev_tick_id;
        cur_tick := b.cur_tick_id;
        ev_data := null;
        for e in select * from pgq.get_batch_events(b.batch_id) loop
            ev_data := e.ev_data;
            return next;
        end loop;
        if ev_data is null then
            return next;        -- an empty batch
        end if;
        perform pgq.finish_batch(b.batch_id);
    end loop;
end
$$;
select * from pg_temp.consume_all('qcons_main', 'qcons_early');
select * from pg_temp.consume_all('qcons_main', 'qcons_late');
select * from pg_temp.consume_all('qcons_main', 'qcons_rewound');
select * from pg_temp.consume_all('qcons_main', 'qcons_latest');

--
-- register_consumer_at on a registered consumer repositions it and drops
-- its open batch
--
select pgq.next_batch('qcons_main', 'qcons_early');
select pgq.insert_event('qcons_main', 'ev', 'three');
select pgq.ticker('qcons_main');
select pgq.next_batch('qcons_main', 'qcons_early') as open_batch \gset
select :open_batch as open_batch, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qcons_main', 'qcons_early');
select pgq.register_consumer_at('qcons_main', 'qcons_early', 2);
select last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qcons_main', 'qcons_early');
select sub_active > now() - interval '1 minute' as seen_recently
  from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
 where c.co_name = 'qcons_early';
-- the abandoned batch is gone
select pgq.finish_batch(:open_batch);
select count(*) from pgq.get_batch_events(:open_batch);
\echo SQLSTATE :SQLSTATE
select * from pg_temp.consume_all('qcons_main', 'qcons_early');
-- register_consumer never moves a registered consumer
select pgq.register_consumer('qcons_main', 'qcons_early');
select last_tick from pgq.get_consumer_info('qcons_main', 'qcons_early');
-- forward again, to the latest tick
select pgq.register_consumer_at('qcons_main', 'qcons_rewound', 4);
select last_tick from pgq.get_consumer_info('qcons_main', 'qcons_rewound');

-- unknown ticks, for new and registered consumers
select pgq.register_consumer_at('qcons_main', 'qcons_early', 99);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at('qcons_main', 'qcons_new', 99);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at('qcons_main', 'qcons_new', 0);
\echo SQLSTATE :SQLSTATE
select count(*) as consumer_rows from pgq.consumer where co_name = 'qcons_new';

-- unknown queues and NULL names
select pgq.register_consumer('qcons_nosuch', 'qcons_early');
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at('qcons_nosuch', 'qcons_early', 1);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer(null, 'qcons_early');
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', null);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at(null, 'qcons_early', 1);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at('qcons_main', null, 1);
\echo SQLSTATE :SQLSTATE

-- consumer names: 1 to 255 bytes, no control characters
select pgq.register_consumer('qcons_main', '');
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', E'qcons\tbad');
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer_at('qcons_main', E'qcons\001bad', 1);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', 'qcons' || chr(127));
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', repeat('c', 256));
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', repeat(U&'\00e9', 128));
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qcons_main', repeat('c', 255));
select pgq.unregister_consumer('qcons_main', repeat('c', 255));
-- dots, quotes and spaces are fine (pgq_coop subconsumers are "main.sub")
select pgq.register_consumer('qcons_main', 'qcons "odd" name.sub');
select pgq.unregister_consumer('qcons_main', 'qcons "odd" name.sub');
select count(*) as consumer_rows from pgq.consumer
 where co_name not in ('qcons_early', 'qcons_late', 'qcons_rewound', 'qcons_latest');

-- a queue without any tick cannot be subscribed to
select pgq.create_queue('qcons_noticks');
delete from pgq.tick where tick_queue = (select queue_id from pgq.queue where queue_name = 'qcons_noticks');
select pgq.register_consumer('qcons_noticks', 'qcons_early');
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue('qcons_noticks');

--
-- unregister_consumer
--
select pgq.unregister_consumer('qcons_main', 'qcons_nobody');
-- an unknown queue is not an error, as in PgQ 3.5 (teardown scripts rely
-- on it), but a NOTICE names it
set client_min_messages = notice;
select pgq.unregister_consumer('qcons_nosuch', 'qcons_early');
set client_min_messages = warning;
select pgq.unregister_consumer(null, 'qcons_early');
\echo SQLSTATE :SQLSTATE
select pgq.unregister_consumer('qcons_main', null);
\echo SQLSTATE :SQLSTATE

-- the consumer row goes with the last subscription; retry rows go too
select pg_temp.setup_queue('qcons_second');
select pgq.register_consumer('qcons_second', 'qcons_late');
select pgq.event_retry_raw('qcons_main', 'qcons_late', now() + interval '1 hour', null,
                           now(), 0, 'ev', 'retry me', null, null, null, null) > 0 as stored;
select pgq.event_retry_raw('qcons_second', 'qcons_late', now() + interval '1 hour', null,
                           now(), 0, 'ev', 'retry me too', null, null, null, null) > 0 as stored;
select pgq.unregister_consumer('qcons_main', 'qcons_late');
select pgq.unregister_consumer('qcons_main', 'qcons_late');
select ev_data from pgq.retry_queue order by ev_data collate "C";
select co_name from pgq.consumer where co_name = 'qcons_late';
select pgq.unregister_consumer('qcons_second', 'qcons_late');
select count(*) as retry_rows from pgq.retry_queue;
select co_name from pgq.consumer where co_name = 'qcons_late';

-- pgq_coop-style subconsumers share their main consumer's sub_id
create function pg_temp.add_subconsumer(q text, main text, sub text) returns void
language sql
as $$
    insert into pgq.consumer (co_name) select sub
     where not exists (select 1 from pgq.consumer where co_name = sub);
    insert into pgq.subscription (sub_id, sub_queue, sub_consumer, sub_last_tick)
    select s.sub_id, s.sub_queue, (select co_id from pgq.consumer where co_name = sub), null
      from pgq.subscription s
      join pgq.queue qu on qu.queue_id = s.sub_queue
      join pgq.consumer c on c.co_id = s.sub_consumer
     where qu.queue_name = q and c.co_name = main;
$$;
select pgq.register_consumer('qcons_main', 'qcons_coop');
select pg_temp.add_subconsumer('qcons_main', 'qcons_coop', 'qcons_coop.s1');
select pg_temp.add_subconsumer('qcons_main', 'qcons_coop', 'qcons_coop.s2');
-- qcons_coop.s2 is also an ordinary consumer elsewhere
select pgq.register_consumer('qcons_second', 'qcons_coop.s2');
select pgq.event_retry_raw('qcons_main', 'qcons_coop', now() + interval '1 hour', null,
                           now(), 0, 'ev', 'coop retry', null, null, null, null) > 0 as stored;
select consumer_name, last_tick from pgq.get_consumer_info('qcons_main')
 where consumer_name like 'qcons_coop%' order by consumer_name collate "C";
-- a subconsumer leaves alone
select pgq.unregister_consumer('qcons_main', 'qcons_coop.s1');
select consumer_name from pgq.get_consumer_info('qcons_main')
 where consumer_name like 'qcons_coop%' order by consumer_name collate "C";
select pg_temp.add_subconsumer('qcons_main', 'qcons_coop', 'qcons_coop.s1');
-- the main consumer takes its subconsumers along: returns the number of rows
select pgq.unregister_consumer('qcons_main', 'qcons_coop');
select consumer_name from pgq.get_consumer_info('qcons_main')
 where consumer_name like 'qcons_coop%';
select count(*) as retry_rows from pgq.retry_queue;
-- consumer rows without any other subscription are deleted (quirk Q4)
select co_name from pgq.consumer where co_name like 'qcons_coop%' order by co_name collate "C";
select pgq.unregister_consumer('qcons_second', 'qcons_coop.s2');

--
-- get_consumer_info: NULL means all; unknown names give no rows
--
select queue_name, consumer_name, lag is not null as has_lag,
       last_seen >= '0' as has_last_seen, last_tick, current_batch, next_tick,
       pending_events
  from pgq.get_consumer_info() where queue_name like 'qcons%'
 order by queue_name collate "C", consumer_name collate "C";
select count(*) from pgq.get_consumer_info('qcons_main');
select count(*) from pgq.get_consumer_info(null);
select count(*) from pgq.get_consumer_info(null, null);
select count(*) from pgq.get_consumer_info(null, 'qcons_early');
select count(*) from pgq.get_consumer_info('qcons_main', null);
select count(*) from pgq.get_consumer_info('qcons_nosuch');
select count(*) from pgq.get_consumer_info('qcons_main', 'qcons_nobody');
select count(*) from pgq.get_consumer_info('qcons_nosuch', 'qcons_early');
-- pending_events counts issued event ids (the event_retry_raw calls above
-- drew ids 4 and 5) from the consumer's tick to the latest tick
select pgq.insert_event('qcons_main', 'ev', 'four');
select pgq.insert_event('qcons_main', 'ev', 'five');
select pgq.ticker('qcons_main');
select consumer_name, last_tick, pending_events from pgq.get_consumer_info('qcons_main')
 order by consumer_name collate "C";
-- lag is measured from the consumer's last tick
update pgq.tick set tick_time = now() - interval '1 day'
 where tick_queue = (select queue_id from pgq.queue where queue_name = 'qcons_main')
   and tick_id = 4;
select consumer_name, lag >= interval '1 day' as lag_from_last_tick
  from pgq.get_consumer_info('qcons_main') order by consumer_name collate "C";

select pgq.drop_queue('qcons_main', true);
select pgq.drop_queue('qcons_second');
select count(*) as queues_left from pgq.queue;
select count(*) as consumers_left from pgq.consumer;
