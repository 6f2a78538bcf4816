--
-- Retry: event_retry (timestamp and seconds forms), batch_retry, the rows
-- of pgq.retry_queue, maint_retry_events and the redelivery of retried
-- events to their consumer only, event_retry_raw (pgq-api.md 3.7, 4.6,
-- 6.5, 6.8).  Errors are followed by their SQLSTATE.
--
-- Retry times are moved into the past with UPDATE instead of waiting.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select count(*) as queues_before from pgq.queue \gset
-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 70000) > 0 as batch_ids_set;

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

-- the consumer owning a retry row or a redelivered event
create function pg_temp.owner_name(queue_id int4, owner int4) returns text
language sql stable
as $$
    select c.co_name from pgq.subscription s join pgq.consumer c on c.co_id = s.sub_consumer
     where s.sub_queue = queue_id and s.sub_id = owner
$$;

select pg_temp.setup_queue('qretry_main');
select queue_id as qm_id from pgq.queue where queue_name = 'qretry_main' \gset
-- all events of the queue, from every event table
do $$
begin
    execute format('create temp view qretry_events as'
                   ' select tableoid::regclass::text as tbl, * from %s',
                   (select queue_data_pfx from pgq.queue where queue_name = 'qretry_main'));
end
$$;
-- the queue's rows of the retry queue
create temp view qretry_rows as
select pg_temp.owner_name(r.ev_queue, r.ev_owner) as owner, r.*
  from pgq.retry_queue r
 where r.ev_queue = (select queue_id from pgq.queue where queue_name = 'qretry_main');

select pgq.register_consumer('qretry_main', 'qretry_a');
select pgq.register_consumer('qretry_main', 'qretry_b');
select pgq.register_consumer('qretry_main', 'qretry_c');
select pgq.insert_event('qretry_main', 'r', 'one');
select pgq.insert_event('qretry_main', 'r', 'two', 'x1', 'x2', 'x3', 'x4');
select pgq.insert_event('qretry_main', 'r', 'three');
select pgq.insert_event('qretry_main', 'r', 'four');
select pgq.ticker('qretry_main');
select pgq.next_batch('qretry_main', 'qretry_a');
select pgq.next_batch('qretry_main', 'qretry_b');
select pgq.next_batch('qretry_main', 'qretry_c');

--
-- event_retry: copies the event into the retry queue, owned by the
-- batch's subscription, with ev_retry raised by one and no txid
--
begin;
-- in seconds from now
select pgq.event_retry(70001, 1, 60);
select ev_id, owner, ev_retry_after - now() as retry_in
  from qretry_rows order by owner, ev_id;
commit;
-- at a given time
select pgq.event_retry(70001, 2, '2000-01-01 00:00:00+00'::timestamptz);
-- already waiting: 0, and the row is left as it is
select pgq.event_retry(70001, 2, now() + interval '1 day');
select pgq.event_retry(70001, 1, 3600);
select r.ev_id, r.owner, r.ev_queue = :qm_id as queue_ok, r.ev_txid, r.ev_retry,
       r.ev_time = e.ev_time as time_kept, r.ev_type, r.ev_data,
       r.ev_extra1, r.ev_extra2, r.ev_extra3, r.ev_extra4,
       case when r.ev_retry_after = '2000-01-01 00:00:00+00' then 'at 2000-01-01'
            when r.ev_retry_after < now() + interval '10 minutes' then 'in 1 minute'
            else 'later' end as retry_after
  from qretry_rows r join qretry_events e on e.ev_id = r.ev_id and e.ev_owner is null
 order by r.owner, r.ev_id;
-- the owner is the subscription's sub_id
select count(*) from pgq.retry_queue r join pgq.subscription s on s.sub_id = r.ev_owner
 where s.sub_batch = 70001;

--
-- batch_retry: every event of the batch not yet waiting for this
-- subscription; other subscriptions' rows for the same event do not count
--
begin;
select pgq.event_retry(70002, 3, 3600);
select pgq.batch_retry(70002, 7200);
select pgq.batch_retry(70002, 7200);
select ev_id, owner, ev_retry, ev_retry_after - now() as retry_in
  from qretry_rows where owner = 'qretry_b' order by ev_id;
commit;

--
-- Errors while the batches are open
--
-- an event that is not in the batch
select pgq.event_retry(70001, 99, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, 99, now());
\echo SQLSTATE :SQLSTATE
-- an unknown batch is reported as such, whether the event exists or not
-- (quirk Q8)
select pgq.event_retry(79999, 1, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(79999, 99, now());
\echo SQLSTATE :SQLSTATE
select pgq.batch_retry(79999, 60);
\echo SQLSTATE :SQLSTATE
-- NULL arguments
select pgq.event_retry(null, 1, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, null, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, 3, null::integer);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(null, 1, now());
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, null, now());
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, 3, null::timestamptz);
\echo SQLSTATE :SQLSTATE
select pgq.batch_retry(null, 60);
\echo SQLSTATE :SQLSTATE
select pgq.batch_retry(70001, null);
\echo SQLSTATE :SQLSTATE
-- nothing was added by the failed calls
select owner, count(*) from qretry_rows group by owner order by owner;

select pgq.finish_batch(70001);
select pgq.finish_batch(70002);
select pgq.finish_batch(70003);
-- a finished batch is gone
select pgq.event_retry(70001, 3, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70001, 3, now());
\echo SQLSTATE :SQLSTATE
select pgq.batch_retry(70002, 60);
\echo SQLSTATE :SQLSTATE

--
-- maint_retry_events: due rows go back into the current event table with
-- their id, time, data, owner and retry count and the mover's txid; rows
-- not yet due stay
--
begin;
select pgq.maint_retry_events();
select pg_temp.generic_name(m.tbl) as tbl, m.ev_id,
       pg_temp.owner_name(:qm_id, m.ev_owner) as owner, m.ev_retry,
       m.ev_txid = txid_current() as mover_txid, m.ev_time = e.ev_time as time_kept,
       m.ev_type, m.ev_data, m.ev_extra1, m.ev_extra2, m.ev_extra3, m.ev_extra4
  from qretry_events m join qretry_events e on e.ev_id = m.ev_id and e.ev_owner is null
 where m.ev_owner is not null;
commit;
select pgq.maint_retry_events();
select ev_id, owner from qretry_rows order by owner, ev_id;
-- make two more due
update pgq.retry_queue set ev_retry_after = now() - interval '1 minute'
 where ev_queue = :qm_id and pg_temp.owner_name(ev_queue, ev_owner) = 'qretry_a' and ev_id = 1;
update pgq.retry_queue set ev_retry_after = now() - interval '2 minutes'
 where ev_queue = :qm_id and pg_temp.owner_name(ev_queue, ev_owner) = 'qretry_b' and ev_id = 3;
select pgq.maint_retry_events();
select pgq.maint_retry_events();
select ev_id, owner from qretry_rows order by owner, ev_id;
select ev_id, pg_temp.owner_name(:qm_id, ev_owner) as owner, ev_retry, ev_data
  from qretry_events where ev_owner is not null order by ev_id, owner;

--
-- Redelivery: after the next tick each consumer gets its own retried
-- events, and only those
--
select pgq.ticker('qretry_main');
select pgq.next_batch('qretry_main', 'qretry_a');
select ev_id, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
  from pgq.get_batch_events(70004);
select * from pg_temp.consume_all('qretry_main', 'qretry_b');
select * from pg_temp.consume_all('qretry_main', 'qretry_c');

-- retried again: the count goes on from the redelivered event's
begin;
select pgq.event_retry(70004, 1, -30);
select ev_id, owner, ev_retry, ev_retry_after - now() as retry_in
  from qretry_rows where owner = 'qretry_a' order by ev_id;
commit;
-- another consumer's retried event in the same span, and an event of an
-- earlier batch, are not in this batch
select pgq.event_retry(70004, 3, 60);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry(70004, 4, 60);
\echo SQLSTATE :SQLSTATE
select pgq.batch_retry(70004, 60);
select ev_id, owner, ev_retry from qretry_rows where owner = 'qretry_a' order by ev_id;
select pgq.finish_batch(70004);
select pgq.maint_retry_events();
select pgq.ticker('qretry_main');
select * from pg_temp.consume_all('qretry_main', 'qretry_a');
-- nothing for qretry_b: an empty batch has nothing to retry.  Event 1 is
-- waiting in the retry queue for qretry_b, but it is not in this batch:
-- that is an error, not "already waiting"
select pgq.next_batch('qretry_main', 'qretry_b');
select count(*) from pgq.get_batch_events(70008);
select pgq.batch_retry(70008, 60);
select pgq.event_retry(70008, 1, 60);
\echo SQLSTATE :SQLSTATE
select pgq.finish_batch(70008);
select * from pg_temp.consume_all('qretry_main', 'qretry_c');

--
-- event_retry_raw: any row, owned by the consumer's subscription, with
-- ev_retry as given; a NULL id draws one from the queue's sequence
--
select pgq.event_retry_raw('qretry_main', 'qretry_c', now() + interval '1 hour', 1000,
                           '2001-02-03 04:05:06+00', 7, 'raw', 'raw data',
                           'e1', null, null, 'e4');
select pgq.event_retry_raw('qretry_main', 'qretry_c', now() - interval '1 hour', null,
                           '2001-02-03 04:05:06+00', null, 'raw', 'fresh id',
                           null, null, null, null);
select ev_id, owner, ev_queue = :qm_id as queue_ok, ev_txid, ev_retry,
       ev_time = '2001-02-03 04:05:06+00' as time_given, ev_type, ev_data,
       ev_extra1, ev_extra2, ev_extra3, ev_extra4, ev_retry_after < now() as due
  from qretry_rows where owner = 'qretry_c' order by ev_id;
select pgq.maint_retry_events();
select pgq.ticker('qretry_main');
select * from pg_temp.consume_all('qretry_main', 'qretry_c');
select * from pg_temp.consume_all('qretry_main', 'qretry_a');
select * from pg_temp.consume_all('qretry_main', 'qretry_b');

-- errors: not registered (unknown queue, unknown consumer, consumer of
-- another queue), NULL names, NULL retry time, a duplicate
select pg_temp.setup_queue('qretry_other');
select queue_id as qo_id from pgq.queue where queue_name = 'qretry_other' \gset
select pgq.register_consumer('qretry_other', 'qretry_d');
select pgq.event_retry_raw('qretry_nosuch', 'qretry_a', now(), null, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw('qretry_main', 'qretry_nobody', now(), null, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw('qretry_main', 'qretry_d', now(), null, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw(null, 'qretry_a', now(), null, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw('qretry_main', null, now(), null, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
-- (the details of these two name internal ids)
\set VERBOSITY terse
select pgq.event_retry_raw('qretry_main', 'qretry_a', null, 2000, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw('qretry_main', 'qretry_c', now(), 1000, now(), 0,
                           'raw', null, null, null, null, null);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
select owner, count(*) from qretry_rows group by owner order by owner;

--
-- maint_retry_events moves at most 10 rows per call, oldest retry time
-- first
--
select count(*) as stored from (
    select pgq.event_retry_raw('qretry_other', 'qretry_d',
                               now() - (13 - g) * interval '1 minute', g, now(), 0,
                               'bulk', g::text, null, null, null, null)
      from generate_series(1, 12) g) s;
select pgq.maint_retry_events();
select ev_id from pgq.retry_queue where ev_queue = :qo_id order by ev_id;
select pgq.maint_retry_events();
select pgq.maint_retry_events();
select pgq.ticker('qretry_other');
select count(*) as events, count(distinct ev_id) as ids, min(ev_retry), max(ev_retry)
  from pg_temp.consume_all('qretry_other', 'qretry_d');

-- dropping the queues removes the consumers' retry rows
drop view qretry_rows, qretry_events;
select pgq.drop_queue('qretry_main', true);
select pgq.drop_queue('qretry_other', true);
select count(*) as retry_rows_left from pgq.retry_queue where ev_queue in (:qm_id, :qo_id);
select count(*) = :queues_before as queues_restored from pgq.queue;
select count(*) as consumers_left from pgq.consumer where co_name like 'qretry%';
