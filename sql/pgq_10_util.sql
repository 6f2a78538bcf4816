--
-- Utilities: version, seq_getval, seq_setval, quote_fqname,
-- find_tick_helper and current_event_table, with their NULL and unknown
-- arguments (pgq-api.md 1, 5.2, 6.2, 6.4, 6.6, 6.9 and quirk Q1).  Errors
-- are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select count(*) as queues_before from pgq.queue \gset
-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 100000) > 0 as batch_ids_set;

--
-- version(): the installed extension version; pgqd skips databases whose
-- answer starts with a character below '3'
--
select pgq.version() = extversion as is_extversion,
       left(pgq.version(), 1) >= '3' as pgqd_accepts,
       pgq.version() ~ '^[0-9]' as starts_with_digit
  from pg_extension where extname = 'pgq';

--
-- quote_fqname: split at the first dot, schema public by default, both
-- parts quoted as identifiers (never case-folded)
--
select n as name, pgq.quote_fqname(n) as quoted
  from unnest(array[
        'plain',
        'Foo',
        'a.B.c',
        'public.x',
        'Public.x',
        'my schema.my table',
        'sch.select',
        'table',
        'we"ird.na"me',
        '.x',
        'x.',
        '.',
        '',
        'pgq.event_1_0',
        U&'sch\00e9ma.t\00e4ble']) with ordinality as t(n, i)
 order by i;
select pgq.quote_fqname(null) is null as strict;
-- the result is usable as a relation name
select pgq.quote_fqname('pgq.queue')::regclass as pgq_queue;

--
-- seq_getval: last_value without advancing the sequence; the name is
-- split and quoted like quote_fqname
--
create sequence public.qutil_seq;
create sequence public."QUtil_Mixed" start 40;
create schema qutil_s;
create sequence qutil_s."odd.name" start 7;

-- a fresh sequence reads its start value before and after the first
-- nextval (quirk Q1)
select pgq.seq_getval('public.qutil_seq') as before_nextval;
select nextval('public.qutil_seq');
select pgq.seq_getval('public.qutil_seq') as after_nextval;
select nextval('public.qutil_seq');
select pgq.seq_getval('public.qutil_seq') as after_second_nextval;
-- reading does not advance it
select pgq.seq_getval('public.qutil_seq') as read_again;
select last_value, is_called from public.qutil_seq;
-- no schema means public; names are case-sensitive and not re-parsed
select pgq.seq_getval('qutil_seq') as default_schema;
select pgq.seq_getval('QUtil_Mixed') as mixed_case;
select pgq.seq_getval('public.QUtil_Mixed') as mixed_case_qualified;
select pgq.seq_getval('qutil_s.odd.name') as dotted_name;
-- ...so folded or quoted spellings do not name the same sequence
select pgq.seq_getval('qutil_mixed');
\echo SQLSTATE :SQLSTATE
select pgq.seq_getval('public."QUtil_Mixed"');
\echo SQLSTATE :SQLSTATE
-- unknown sequences and schemas
select pgq.seq_getval('qutil_noseq');
\echo SQLSTATE :SQLSTATE
select pgq.seq_getval('qutil_noschema.qutil_seq');
\echo SQLSTATE :SQLSTATE
select pgq.seq_getval('');
\echo SQLSTATE :SQLSTATE
-- STRICT
select pgq.seq_getval(null) is null as strict;

--
-- seq_setval: moves a sequence forward, never backward; returns the
-- resulting value
--
select pgq.seq_setval('public.qutil_seq', 10) as moved_forward;
select last_value, is_called from public.qutil_seq;
select nextval('public.qutil_seq') as next_after_setval;
-- lower and equal values leave the sequence alone and return its value
select pgq.seq_setval('public.qutil_seq', 5) as not_moved_back;
select pgq.seq_setval('public.qutil_seq', 11) as equal_value;
select last_value, is_called from public.qutil_seq;
select nextval('public.qutil_seq') as next_unchanged;
-- a fresh sequence: its start value counts as the current value
select pgq.seq_setval('QUtil_Mixed', 40) as equal_to_start;
select last_value, is_called from public."QUtil_Mixed";
select pgq.seq_setval('QUtil_Mixed', 39) as below_start;
select nextval('public."QUtil_Mixed"') as first_nextval;
select pgq.seq_setval('qutil_s.odd.name', 1000) as dotted_name;
select pgq.seq_getval('qutil_s.odd.name') as dotted_name_now;
-- large values
select pgq.seq_setval('public.qutil_seq', 9000000000) as beyond_int4;
select pgq.seq_setval('public.qutil_seq', -1) as negative_ignored;
-- unknown sequences
select pgq.seq_setval('qutil_noseq', 1);
\echo SQLSTATE :SQLSTATE
select pgq.seq_setval('qutil_noschema.qutil_seq', 1);
\echo SQLSTATE :SQLSTATE
select pgq.seq_setval('qutil_mixed', 100);
\echo SQLSTATE :SQLSTATE
-- STRICT: a NULL name or value does nothing
select pgq.seq_setval(null, 1) is null as strict_name,
       pgq.seq_setval('public.qutil_seq', null) is null as strict_value;
select last_value from public.qutil_seq;

-- a queue's sequences are read the same way
select pgq.create_queue('qutil_q');
select queue_event_seq as evseq, queue_tick_seq as tickseq, queue_data_pfx as qpfx
  from pgq.queue where queue_name = 'qutil_q' \gset
select pgq.seq_getval(:'tickseq') as tick_seq, pgq.seq_getval(:'evseq') as event_seq;
select pgq.insert_event('qutil_q', 'ev', 'one');
select pgq.insert_event('qutil_q', 'ev', 'two');
select pgq.seq_getval(:'evseq') as event_seq;

drop sequence public.qutil_seq, public."QUtil_Mixed";
drop schema qutil_s cascade;

--
-- current_event_table: the unquoted name of the table receiving inserts,
-- following queue_cur_table
--
select pgq.current_event_table('qutil_q') = :'qpfx' || '_0' as is_table_0;
update pgq.queue set queue_cur_table = 2 where queue_name = 'qutil_q';
select pgq.current_event_table('qutil_q') = :'qpfx' || '_2' as is_table_2;
select pgq.insert_event('qutil_q', 'ev', 'three');
select ev_data, tableoid::regclass::text = :'qpfx' || '_2' as in_table_2
  from pgq.event_template
 where tableoid::regclass::text like :'qpfx' || '\_%' order by ev_id;
update pgq.queue set queue_cur_table = 0 where queue_name = 'qutil_q';
-- the name is not quoted and has the schema.table form clients split
select pgq.current_event_table('qutil_q') ~ '^pgq\.event_[0-9]+_0$' as plain_name;
-- queues with inserts disabled name it only in replica role
update pgq.queue set queue_disable_insert = true where queue_name = 'qutil_q';
select pgq.current_event_table('qutil_q');
\echo SQLSTATE :SQLSTATE
set session_replication_role = replica;
select pgq.current_event_table('qutil_q') = :'qpfx' || '_0' as replica_allowed;
reset session_replication_role;
update pgq.queue set queue_disable_insert = false where queue_name = 'qutil_q';
-- unknown and NULL queue names
select pgq.current_event_table('qutil_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table('');
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table(null);
\echo SQLSTATE :SQLSTATE

--
-- find_tick_helper: the end tick for a batch of at least i_min_count
-- events (by tick_event_seq) or spanning at least i_min_interval (by
-- tick_time); the latest tick if it qualifies, the first qualifying one if
-- the latest overshoots a criterion by more than a factor of two.
--
-- Ticks 1..6 of queue qutil_ticks, with times and event sequence values
-- set by hand:
--   tick    1   2   3   4    5    6
--   minute  0   1   2   5   10   11
--   seq     0  10  20  30  100  105
--
select pgq.create_queue('qutil_ticks');
select queue_id as tq from pgq.queue where queue_name = 'qutil_ticks' \gset
select pgq.set_queue_config('qutil_ticks', 'ticker_max_lag', '0');
select pgq.set_queue_config('qutil_ticks', 'ticker_idle_period', '0');
select pgq.ticker('qutil_ticks');
select pgq.ticker('qutil_ticks');
select pgq.ticker('qutil_ticks');
select pgq.ticker('qutil_ticks');
select pgq.ticker('qutil_ticks');
update pgq.tick t
   set tick_time = '2024-01-01 00:00:00+00'::timestamptz + v.minute * interval '1 minute',
       tick_event_seq = v.seq
  from (values (1, 0, 0), (2, 1, 10), (3, 2, 20), (4, 5, 30), (5, 10, 100), (6, 11, 105))
       as v(tick_id, minute, seq)
 where t.tick_queue = :tq and t.tick_id = v.tick_id;
select tick_id, tick_time - '2024-01-01 00:00:00+00' as minute, tick_event_seq
  from pgq.tick where tick_queue = :tq order by tick_id;

create function pg_temp.find_tick(prev_tick bigint, min_count int8, min_interval interval)
returns table (next_tick_id bigint, next_tick_minute interval, next_tick_seq bigint)
language sql
as $$
    select h.next_tick_id, h.next_tick_time - '2024-01-01 00:00:00+00', h.next_tick_seq
      from pgq.tick t,
           pgq.find_tick_helper(t.tick_queue, t.tick_id, t.tick_time, t.tick_event_seq,
                                min_count, min_interval) h
     where t.tick_queue = (select queue_id from pgq.queue where queue_name = 'qutil_ticks')
       and t.tick_id = prev_tick
$$;

-- by count, from tick 1: the latest tick (105 events) qualifies for up to
-- 105 and is not more than twice 53
select * from pg_temp.find_tick(1, 60, null);
select * from pg_temp.find_tick(1, 105, null);
select * from pg_temp.find_tick(1, 53, null);
-- 105 > 2 * 52: the first tick with at least 52 events instead
select * from pg_temp.find_tick(1, 52, null);
select * from pg_temp.find_tick(1, 20, null);
select * from pg_temp.find_tick(1, 1, null);
-- not enough events yet: nothing
select * from pg_temp.find_tick(1, 106, null);
-- by interval, from tick 1: the latest tick spans 11 minutes
select * from pg_temp.find_tick(1, null, '6 minutes');
select * from pg_temp.find_tick(1, null, '5 minutes 30 seconds');
select * from pg_temp.find_tick(1, null, '11 minutes');
-- 11 minutes > 2 * 5 minutes: the first tick at least 5 minutes later
select * from pg_temp.find_tick(1, null, '5 minutes');
select * from pg_temp.find_tick(1, null, '1 minute');
select * from pg_temp.find_tick(1, null, '12 minutes');
-- both criteria: either one qualifies the latest tick
select * from pg_temp.find_tick(1, 200, '10 minutes');
select * from pg_temp.find_tick(1, 100, '1 hour');
select * from pg_temp.find_tick(1, 200, '1 hour');
-- overshooting one criterion picks the first tick meeting either: by
-- count alone tick 3, but tick 2 is already a minute later
select * from pg_temp.find_tick(1, 20, null);
select * from pg_temp.find_tick(1, 20, '1 minute');
-- overshooting the interval while the count is not met
select * from pg_temp.find_tick(1, 1000, '4 minutes');
-- from a later start tick the differences are measured from it
select * from pg_temp.find_tick(4, 70, null);
select * from pg_temp.find_tick(4, 30, null);
select * from pg_temp.find_tick(4, null, '6 minutes');
select * from pg_temp.find_tick(4, null, '2 minutes');
select * from pg_temp.find_tick(5, 5, null);
-- no tick after the start tick: nothing
select * from pg_temp.find_tick(6, 1, null);
select * from pg_temp.find_tick(6, null, '0');
-- no criterion: nothing qualifies
select * from pg_temp.find_tick(1, null, null);
-- a zero count is met by any later tick, and the latest overshoots it
select * from pg_temp.find_tick(1, 0, null);
-- the start tick's time and sequence are the caller's values: they need
-- not belong to an existing tick
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 0, '2024-01-01 00:00:00+00', 0, 60, null);
-- (from tick 2 with sequence 0: tick 3 is 20 ahead, not 10)
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 2, '2024-01-01 00:00:00+00', 0, 15, null);
-- unknown queue, unknown or NULL arguments: one row of NULLs, no error
select * from pgq.find_tick_helper(-1, 1, now(), 0, 1, '1 second');
select * from pgq.find_tick_helper(null, 1, now(), 0, 1, '1 second');
select * from pgq.find_tick_helper(:tq, null, now(), 0, 1, '1 second');
select * from pgq.find_tick_helper(:tq, 99, now(), 0, 1, '1 second');
-- a NULL start time or sequence leaves the criterion that needs it unmet
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 1, null, 0, 60, '1 minute');
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 1, null, 0, null, '1 minute');
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 1, '2024-01-01 00:00:00+00', null, 60, '6 minutes');
select next_tick_id, next_tick_seq
  from pgq.find_tick_helper(:tq, 1, '2024-01-01 00:00:00+00', null, 60, null);

select pgq.drop_queue('qutil_q');
select pgq.drop_queue('qutil_ticks');
select count(*) = :queues_before as queues_restored from pgq.queue;
select count(*) as consumers_left from pgq.consumer where co_name like 'qutil%';
