--
-- Privileges in action (pgq-api.md 2): roles that are members of
-- pgq_admin, pgq_writer, pgq_reader or of none call functions of every
-- group and touch the tables directly; security-definer functions ignore
-- the caller's search_path; finish_batch knows nothing but the batch id.
-- Errors are followed by their SQLSTATE; where a message would name a
-- per-queue object (its name holds the queue id) only the SQLSTATE is
-- shown.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select count(*) as queues_before from pgq.queue \gset
-- batch ids are global; start this file's at a known value
select setval('pgq.batch_id_seq', 90000) > 0 as batch_ids_set;

create function pg_temp.generic_name(name text) returns text
language sql immutable
as $$ select regexp_replace($1, 'event_[0-9]+', 'event_N', 'g') $$;

-- the rest of an open cursor of event rows
create function pg_temp.fetch_rest(c refcursor)
returns table (ev_id bigint, ev_data text)
language plpgsql
as $$
declare
    r record;
begin
    loop
        fetch c into r;
        exit when not found;
        ev_id := r.ev_id;
        ev_data := r.ev_data;
        return next;
    end loop;
end
$$;

create role qroles_admin nologin in role pgq_admin;
create role qroles_writer nologin in role pgq_writer;
create role qroles_reader nologin in role pgq_reader;
create role qroles_reader2 nologin in role pgq_reader;
create role qroles_nobody nologin;

--
-- pgq_admin: queue administration, ticker, maintenance, and everything
-- consumers and producers may do
--
set role qroles_admin;
select pgq.create_queue('qroles_q');
select pgq.set_queue_config('qroles_q', 'ticker_max_count', '1');
select pgq.set_queue_config('qroles_q', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('qroles_q', 'ticker_idle_period', '1 hour');
select pgq.grant_perms('qroles_q');
select queue_data_pfx as qpfx, queue_event_seq as qevseq, queue_id as qid
  from pgq.queue where queue_name = 'qroles_q' \gset
select pgq.current_event_table('qroles_q') as qtable,
       queue_data_pfx || '_2' as qtable2
  from pgq.queue where queue_name = 'qroles_q' \gset
-- the settings without a set_queue_config key are changed with UPDATE
update pgq.queue set queue_per_tx_limit = 100 where queue_name = 'qroles_q';
update pgq.queue set queue_per_tx_limit = null where queue_name = 'qroles_q';
-- events straight into the current table (as cascade workers copy them)
-- and through insert_event_raw
insert into :qtable (ev_time, ev_type, ev_data) values (now(), 'admin', 'direct');
select pgq.insert_event_raw('qroles_q', null, null, null, null, 'admin', 'raw',
                            null, null, null, null);
select pgq.ticker('qroles_q');
select pgq.ticker() >= 0 as ticker_ran;
select pgq.maint_retry_events();
select count(*) >= 0 as listed from pgq.maint_operations();
select pgq.maint_rotate_tables_step2();
select count(*) from pgq.retry_queue;
-- an event table that is not current can be truncated (rotation does it)
truncate :qtable2;
-- tune_storage runs with the caller's rights: only the tables' owner may
-- change storage options
\set VERBOSITY sqlstate
select pgq.tune_storage('qroles_q');
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
-- sequences of the extension are nobody's to use directly
select nextval('pgq.batch_id_seq');
\echo SQLSTATE :SQLSTATE
reset role;

--
-- pgq_writer: produces events through the functions only
--
set role qroles_writer;
select pgq.insert_event('qroles_q', 'writer', 'three args');
select pgq.insert_event('qroles_q', 'writer', 'seven args', 'x1', 'x2', 'x3', 'x4');
select pgq.current_event_table('qroles_q') = :'qtable' as current_table;
-- no raw inserts, no direct access to the event tables
select pgq.insert_event_raw('qroles_q', null, null, null, null, 'writer', 'raw',
                            null, null, null, null);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY sqlstate
insert into :qtable (ev_time, ev_type, ev_data) values (now(), 'writer', 'direct');
\echo SQLSTATE :SQLSTATE
select count(*) from :qtable;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
insert into pgq.tick (tick_queue, tick_id, tick_event_seq) values (:qid, 100, 0);
\echo SQLSTATE :SQLSTATE
-- consumer and admin functions are refused
select pgq.register_consumer('qroles_q', 'qroles_c1');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch('qroles_q', 'qroles_c1');
\echo SQLSTATE :SQLSTATE
select pgq.finish_batch(1);
\echo SQLSTATE :SQLSTATE
select pgq.create_queue('qroles_w');
\echo SQLSTATE :SQLSTATE
select pgq.ticker('qroles_q');
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue('qroles_q');
\echo SQLSTATE :SQLSTATE
-- public functions and tables are open to everybody
select queue_name, last_tick_id, ev_new from pgq.get_queue_info('qroles_q');
select count(*) from pgq.queue where queue_name = 'qroles_q';
reset role;

--
-- pgq_reader: registers, consumes and retries, but neither produces nor
-- administers
--
set role qroles_reader;
select pgq.register_consumer('qroles_q', 'qroles_c1');
select pgq.register_consumer('qroles_q', 'qroles_c2');
select pgq.insert_event('qroles_q', 'reader', 'three args');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qroles_q', 'reader', 'seven args', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table('qroles_q');
\echo SQLSTATE :SQLSTATE
select pgq.create_queue('qroles_r');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qroles_q', 'ticker_max_count', '2');
\echo SQLSTATE :SQLSTATE
select pgq.ticker('qroles_q');
\echo SQLSTATE :SQLSTATE
select pgq.ticker();
\echo SQLSTATE :SQLSTATE
select pgq.maint_retry_events();
\echo SQLSTATE :SQLSTATE
select pgq.maint_rotate_tables_step1('qroles_q');
\echo SQLSTATE :SQLSTATE
select pgq.seq_setval(:'qevseq', 1000);
\echo SQLSTATE :SQLSTATE
select pgq.event_retry_raw('qroles_q', 'qroles_c1', now(), null, now(), 0, 'reader', 'raw',
                           null, null, null, null);
\echo SQLSTATE :SQLSTATE
reset role;

-- events for the consumers
set role qroles_writer;
select pgq.insert_event('qroles_q', 'writer', 'for readers 1');
select pgq.insert_event('qroles_q', 'writer', 'for readers 2');
set role qroles_admin;
select pgq.ticker('qroles_q');

-- a batch, read every way a consumer may read it
set role qroles_reader;
select pgq.next_batch('qroles_q', 'qroles_c1');
select pgq.next_batch('qroles_q', 'qroles_c1') as b1 \gset
select batch_id, cur_tick_id, prev_tick_id
  from pgq.next_batch_custom('qroles_q', 'qroles_c1', null, null, null);
select queue_name, consumer_name, prev_tick_id, tick_id
  from pgq.get_batch_info(:b1);
select ev_id, ev_retry, ev_type, ev_data, ev_extra1 from pgq.get_batch_events(:b1);
select pg_temp.generic_name(t) as batch_table from pgq.batch_event_tables(:b1) t;
select pgq.batch_event_sql(:b1) as batch_sql \gset
select ev_id, ev_data from (:batch_sql) ev;
begin;
select ev_id, ev_data from pgq.get_batch_cursor(:b1, 'qroles_cursor', 1);
select * from pg_temp.fetch_rest('qroles_cursor');
close qroles_cursor;
commit;
-- the queue's tables are readable directly, not writable
select ev_id, ev_data from :qtable order by ev_id;
select count(*) > 0 as has_ticks from pgq.tick where tick_queue = :qid;
\set VERBOSITY sqlstate
insert into :qtable (ev_time, ev_type, ev_data) values (now(), 'reader', 'direct');
\echo SQLSTATE :SQLSTATE
truncate :qtable;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
update pgq.subscription set sub_last_tick = 1;
\echo SQLSTATE :SQLSTATE
delete from pgq.tick where tick_queue = :qid;
\echo SQLSTATE :SQLSTATE
insert into pgq.consumer (co_name) values ('qroles_direct');
\echo SQLSTATE :SQLSTATE
select count(*) from pgq.retry_queue;
\echo SQLSTATE :SQLSTATE
select nextval('pgq.batch_id_seq');
\echo SQLSTATE :SQLSTATE
-- retry and finish
select pgq.event_retry(:b1, 3, now() - interval '1 minute');
select pgq.event_retry(:b1, 3, now() - interval '1 minute');
select pgq.event_retry(:b1, 4::bigint, 3600);
select pgq.batch_retry(:b1, 3600);
select pgq.finish_batch(:b1);
reset role;

-- the administrator moves due retries back into the queue; only the
-- consumer that retried the event gets it again
set role qroles_admin;
select ev_id, ev_retry, ev_retry_after > now() as later from pgq.retry_queue order by ev_id;
select pgq.maint_retry_events();
select pgq.ticker('qroles_q');
set role qroles_reader;
select pgq.next_batch('qroles_q', 'qroles_c1') as b2 \gset
select :b2 as batch_id, ev_id, ev_retry, ev_data from pgq.get_batch_events(:b2);
select pgq.finish_batch(:b2);
select pgq.next_batch('qroles_q', 'qroles_c2') as b3 \gset
select :b3 as batch_id, ev_id, ev_retry, ev_data from pgq.get_batch_events(:b3);
select pgq.finish_batch(:b3);
select pgq.next_batch('qroles_q', 'qroles_c2') as b4 \gset
select :b4 as batch_id, count(*) as events from pgq.get_batch_events(:b4);
select pgq.finish_batch(:b4);
reset role;

--
-- A role in no pgq group: only the public functions and tables
--
set role qroles_nobody;
select pgq.version() = (select extversion from pg_extension where extname = 'pgq') as version;
select pgq.quote_fqname('qroles.Name');
select queue_name, last_tick_id, ev_new from pgq.get_queue_info('qroles_q');
select consumer_name, last_tick, current_batch from pgq.get_consumer_info('qroles_q')
 order by consumer_name collate "C";
select pgq.seq_getval(:'qevseq') as event_seq;
select count(*) as queues from pgq.queue where queue_name = 'qroles_q';
select pgq.seq_getval('pgq.batch_id_seq');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qroles_q', 'nobody', 'x');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qroles_q', 'nobody', 'x', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.register_consumer('qroles_q', 'qroles_nobody');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch('qroles_q', 'qroles_c1');
\echo SQLSTATE :SQLSTATE
select pgq.next_batch_info('qroles_q', 'qroles_c1');
\echo SQLSTATE :SQLSTATE
select pgq.get_batch_events(:b1);
\echo SQLSTATE :SQLSTATE
select pgq.get_batch_info(:b1);
\echo SQLSTATE :SQLSTATE
select pgq.finish_batch(:b1);
\echo SQLSTATE :SQLSTATE
select pgq.unregister_consumer('qroles_q', 'qroles_c1');
\echo SQLSTATE :SQLSTATE
select pgq.create_queue('qroles_n');
\echo SQLSTATE :SQLSTATE
select pgq.ticker();
\echo SQLSTATE :SQLSTATE
select pgq.maint_operations();
\echo SQLSTATE :SQLSTATE
\set VERBOSITY sqlstate
select count(*) from :qtable;
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
reset role;

--
-- finish_batch takes only a batch id: any consumer role can finish any
-- open batch, and it affects only the subscription that has it open
--
set role qroles_writer;
select pgq.insert_event('qroles_q', 'writer', 'for finishing');
set role qroles_admin;
select pgq.ticker('qroles_q');
set role qroles_reader;
select pgq.next_batch('qroles_q', 'qroles_c1') as b5 \gset
select pgq.next_batch('qroles_q', 'qroles_c2') as b6 \gset
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qroles_q') order by consumer_name collate "C";
-- another reader role finishes qroles_c1's batch: qroles_c2 is untouched
set role qroles_reader2;
select pgq.finish_batch(:b5);
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qroles_q') order by consumer_name collate "C";
-- finished: the id is dead
select pgq.finish_batch(:b5);
-- repositioning abandons the open batch: its id is dead too
select pgq.register_consumer_at('qroles_q', 'qroles_c2', 4);
select pgq.finish_batch(:b6);
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qroles_q') order by consumer_name collate "C";
-- and so is the batch of an unregistered consumer; the other stays put
set role qroles_writer;
select pgq.insert_event('qroles_q', 'writer', 'for finishing 2');
set role qroles_admin;
select pgq.ticker('qroles_q');
set role qroles_reader;
select pgq.next_batch('qroles_q', 'qroles_c2') as b7 \gset
select pgq.next_batch('qroles_q', 'qroles_c1') as b8 \gset
select pgq.unregister_consumer('qroles_q', 'qroles_c2');
select pgq.finish_batch(:b7);
select pgq.get_batch_events(:b7);
\echo SQLSTATE :SQLSTATE
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qroles_q') order by consumer_name collate "C";
select pgq.finish_batch(:b8);
-- registering again starts afresh at the latest tick
select pgq.register_consumer('qroles_q', 'qroles_c2');
select consumer_name, last_tick, current_batch, next_tick
  from pgq.get_consumer_info('qroles_q') order by consumer_name collate "C";
reset role;

--
-- Security-definer functions pin their search_path: operators and
-- functions a caller puts ahead of pg_catalog are never run with the
-- function owner's rights.  The planted objects record who called them.
--
create schema qroles_evil authorization qroles_reader;
set role qroles_reader;
grant usage on schema qroles_evil to public;
create table qroles_evil.calls (who text, what text);
grant insert on qroles_evil.calls to public;
create function qroles_evil.text_eq(text, text) returns boolean
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'text = text');
    return $1 operator(pg_catalog.=) $2;
end
$$;
create operator qroles_evil.= (leftarg = text, rightarg = text, function = qroles_evil.text_eq);
create function qroles_evil.int4_eq(int4, int4) returns boolean
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'int4 = int4');
    return $1 operator(pg_catalog.=) $2;
end
$$;
create operator qroles_evil.= (leftarg = int4, rightarg = int4, function = qroles_evil.int4_eq);
create function qroles_evil.int8_eq(int8, int8) returns boolean
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'int8 = int8');
    return $1 operator(pg_catalog.=) $2;
end
$$;
create operator qroles_evil.= (leftarg = int8, rightarg = int8, function = qroles_evil.int8_eq);
create function qroles_evil.now() returns timestamptz
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'now()');
    return pg_catalog.now();
end
$$;
create function qroles_evil.txid_current() returns bigint
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'txid_current()');
    return pg_catalog.txid_current();
end
$$;
create function qroles_evil.nextval(regclass) returns bigint
language plpgsql as $$
begin
    insert into qroles_evil.calls values (current_user, 'nextval()');
    return pg_catalog.nextval($1);
end
$$;
grant execute on all functions in schema qroles_evil to public;
-- the trap works: the caller's own query picks the planted operator
set search_path = qroles_evil, pg_catalog, public;
select 'a'::text = 'a'::text as planted_equal;
reset search_path;
select who, what from qroles_evil.calls;
truncate qroles_evil.calls;
reset role;

-- events to consume
set role qroles_writer;
set search_path = qroles_evil, pg_catalog, public;
select pgq.insert_event('qroles_q', 'writer', 'evil path 1');
select pgq.insert_event('qroles_q', 'writer', 'evil path 2', 'x1', null, null, null);
reset search_path;
set role qroles_admin;
set search_path = qroles_evil, pg_catalog, public;
select pgq.ticker('qroles_q');
select pgq.set_queue_config('qroles_q', 'ticker_max_count', '1');
select pgq.create_queue('qroles_evil_q');
select pgq.drop_queue('qroles_evil_q', false);
select pgq.grant_perms('qroles_q');
select pgq.event_retry_raw('qroles_q', 'qroles_c1', pg_catalog.now() + interval '1 hour',
                           1000, pg_catalog.now(), 0, 'admin', 'raw retry',
                           null, null, null, null);
reset search_path;

-- the consumer's whole cycle with the planted objects in its path
set role qroles_reader;
set search_path = qroles_evil, pg_catalog, public;
select pgq.register_consumer('qroles_q', 'qroles_c3');
select pgq.register_consumer_at('qroles_q', 'qroles_c3', 6);
select pgq.next_batch('qroles_q', 'qroles_c3') as b9 \gset
select batch_id = :b9 as same_batch from pgq.next_batch_info('qroles_q', 'qroles_c3');
select batch_id = :b9 as same_batch
  from pgq.next_batch_custom('qroles_q', 'qroles_c3', '0', 1, '0');
select queue_name, consumer_name, prev_tick_id, tick_id from pgq.get_batch_info(:b9);
select consumer_name, last_tick from pgq.get_consumer_info('qroles_q', 'qroles_c3');
select count(*) from pgq.get_consumer_info('qroles_q');
select count(*) >= 3 as lists_all from pgq.get_consumer_info();
select pgq.force_tick('qroles_q') > 0 as forced;
reset search_path;
select who, what from qroles_evil.calls;
set search_path = qroles_evil, pg_catalog, public;
-- get_batch_events runs with the caller's rights and may use the caller's
-- operators; the retry functions read the same batch as the owner
select ev_id, ev_data from pgq.get_batch_events(:b9);
select pgq.event_retry(:b9, 10, pg_catalog.now() + interval '1 minute');
select pgq.batch_retry(:b9, 60);
select pgq.finish_batch(:b9);
select pgq.unregister_consumer('qroles_q', 'qroles_c3');
reset search_path;
select count(*) as calls_with_other_rights from qroles_evil.calls
 where who <> 'qroles_reader';
reset role;
select ev_id, ev_data, ev_retry from pgq.retry_queue order by ev_id;

--
-- Rotation runs with the administrator's own rights, which suffice
--
set role qroles_admin;
update pgq.queue set queue_switch_time = now() - interval '3 hours'
 where queue_name = 'qroles_q';
select pgq.maint_rotate_tables_step1('qroles_q');
select pgq.maint_rotate_tables_step2();
select queue_cur_table, queue_switch_step2 is not null as confirmed
  from pgq.queue where queue_name = 'qroles_q';

--
-- Clean up
--
select pgq.drop_queue('qroles_q', true);
reset role;
drop schema qroles_evil cascade;
drop role qroles_admin, qroles_writer, qroles_reader, qroles_reader2, qroles_nobody;
select count(*) = :queues_before as queues_restored from pgq.queue;
select count(*) as consumers_left from pgq.consumer where co_name like 'qroles%';
select count(*) as roles_left from pg_roles where rolname like 'qroles%';
