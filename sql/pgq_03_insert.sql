--
-- Producing events: insert_event (3 and 7 arguments), insert_event_raw,
-- disabled inserts and session_replication_role, the per-transaction
-- limit, and direct INSERT/COPY into current_event_table
-- (pgq-api.md 3.5, 4.1, 6.2, 8).  Errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create function pg_temp.generic_name(name text) returns text
language sql immutable
as $$ select regexp_replace($1, 'event_[0-9]+', 'event_N', 'g') $$;

select pgq.create_queue('qins_main');
select queue_data_pfx as qpfx, queue_event_seq as qevseq
  from pgq.queue where queue_name = 'qins_main' \gset
-- all events of the queue, from every event table
do $$
begin
    execute format('create temp view qins_events as'
                   ' select tableoid::regclass::text as tbl, * from %s',
                   (select queue_data_pfx from pgq.queue where queue_name = 'qins_main'));
end
$$;

--
-- insert_event: ids come from the queue's sequence, time and txid are the
-- inserting transaction's
--
begin;
select pgq.insert_event('qins_main', 'type.a', 'data a');
select pgq.insert_event('qins_main', 'type.b', 'data b', 'x1', 'x2', 'x3', 'x4');
select pgq.insert_event('qins_main', null, null);
select ev_id, ev_time = now() as time_now, ev_txid = txid_current() as txid_current,
       ev_owner, ev_retry, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4,
       pg_temp.generic_name(tbl) as tbl
  from qins_events order by ev_id;
commit;
select pgq.seq_getval(:'qevseq') as event_seq;

-- a rolled back insert still consumes its id (quirk Q2: gaps are kept)
begin;
select pgq.insert_event('qins_main', 'type.c', 'rolled back');
rollback;
select pgq.insert_event('qins_main', 'type.c', 'after rollback');
select ev_id, ev_data from qins_events where ev_type = 'type.c' order by ev_id;

--
-- insert_event_raw: explicit id, time, owner and retry count are stored
-- as given, and the sequence advances all the same
--
select pgq.insert_event_raw('qins_main', 1000, '2001-02-03 04:05:06+00', 7, 2,
                            'raw', 'raw data', 'e1', null, null, 'e4');
select pgq.seq_getval(:'qevseq') as event_seq;
select pgq.insert_event_raw('qins_main', null, null, null, null,
                            'raw.defaults', null, null, null, null, null);
select ev_id, ev_time = '2001-02-03 04:05:06+00' as given_time, ev_owner, ev_retry,
       ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4
  from qins_events where ev_type = 'raw';
select ev_id, ev_time > '2001-02-03' as time_now, ev_owner, ev_retry
  from qins_events where ev_type = 'raw.defaults';

--
-- bad queue names
--
select pgq.insert_event(null, 'x', 'y');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event(null, 'x', 'y', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.insert_event_raw(null, null, null, null, null, 'x', 'y', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qins_nosuch', 'x', 'y');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qins_nosuch', 'x', 'y', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.insert_event_raw('qins_nosuch', null, null, null, null, 'x', 'y', null, null, null, null);
\echo SQLSTATE :SQLSTATE

-- a read-only transaction cannot produce events
begin transaction read only;
select pgq.insert_event('qins_main', 'x', 'read only');
\echo SQLSTATE :SQLSTATE
rollback;

--
-- queue_disable_insert: only session_replication_role = replica may write
--
update pgq.queue set queue_disable_insert = true where queue_name = 'qins_main';
select pgq.insert_event('qins_main', 'x', 'disabled');
\echo SQLSTATE :SQLSTATE
select pgq.insert_event('qins_main', 'x', 'disabled', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.insert_event_raw('qins_main', null, null, null, null, 'x', 'disabled', null, null, null, null);
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table('qins_main');
\echo SQLSTATE :SQLSTATE
set session_replication_role = local;
select pgq.insert_event('qins_main', 'x', 'disabled, local');
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table('qins_main');
\echo SQLSTATE :SQLSTATE
set session_replication_role = replica;
select pgq.insert_event('qins_main', 'replica', 'allowed') > 0 as inserted;
select pgq.insert_event('qins_main', 'replica', 'allowed', 'x1', null, null, null) > 0 as inserted;
select pgq.insert_event_raw('qins_main', 2000, null, null, null, 'replica', 'allowed',
                            null, null, null, null);
select pg_temp.generic_name(pgq.current_event_table('qins_main')) as current_table;
reset session_replication_role;
select count(*) as replica_events from qins_events where ev_type = 'replica';
select count(*) as refused_events_stored from qins_events where ev_data like 'disabled%';
-- every insert call took an id, refused ones too (step 2 of insert_event_raw)
select pgq.seq_getval(:'qevseq') as event_seq;
update pgq.queue set queue_disable_insert = false where queue_name = 'qins_main';
select pgq.insert_event('qins_main', 'x', 'enabled again') > 0 as inserted;

--
-- queue_per_tx_limit: inserts counted per top-level transaction and queue
--
select pgq.create_queue('qins_limit');
select pgq.create_queue('qins_other');
update pgq.queue set queue_per_tx_limit = 2 where queue_name in ('qins_limit', 'qins_other');
begin;
select pgq.insert_event('qins_limit', 'lim', '1');
select pgq.insert_event('qins_limit', 'lim', '2', null, null, null, null);
-- other queues have their own count
select pgq.insert_event('qins_other', 'lim', '1');
select pgq.insert_event('qins_limit', 'lim', '3');
\echo SQLSTATE :SQLSTATE
rollback;
begin;
select pgq.insert_event_raw('qins_limit', null, null, null, null, 'lim', '1', null, null, null, null) > 0 as ok;
select pgq.insert_event_raw('qins_limit', null, null, null, null, 'lim', '2', null, null, null, null) > 0 as ok;
select pgq.insert_event_raw('qins_limit', null, null, null, null, 'lim', '3', null, null, null, null);
\echo SQLSTATE :SQLSTATE
rollback;
-- a new transaction starts counting again; each autocommit statement is one
begin;
select pgq.insert_event('qins_limit', 'lim', 'a') > 0 as ok;
select pgq.insert_event('qins_limit', 'lim', 'b') > 0 as ok;
commit;
select pgq.insert_event('qins_limit', 'lim', 'c') > 0 as ok;
select pgq.insert_event('qins_limit', 'lim', 'd') > 0 as ok;
select pgq.insert_event('qins_limit', 'lim', 'e') > 0 as ok;
select ev_data from pgq.event_template t
  join pgq.queue q on t.tableoid::regclass::text like q.queue_data_pfx || '\_%'
 where q.queue_name = 'qins_limit' order by ev_id;
-- limit 0 forbids every insert through the functions
update pgq.queue set queue_per_tx_limit = 0 where queue_name = 'qins_limit';
select pgq.insert_event('qins_limit', 'lim', 'zero');
\echo SQLSTATE :SQLSTATE
-- but direct writes into the current table are not counted
select pgq.current_event_table('qins_limit') as limit_table \gset
insert into :limit_table (ev_time, ev_type, ev_data)
select now(), 'lim', 'direct ' || i from generate_series(1, 3) i;
select count(*) as direct_rows from :limit_table where ev_data like 'direct%';
-- NULL means unlimited
update pgq.queue set queue_per_tx_limit = null where queue_name = 'qins_limit';
begin;
select count(pgq.insert_event('qins_limit', 'lim', 'many ' || i)) from generate_series(1, 10) i;
commit;

--
-- current_event_table: clients INSERT and COPY straight into it; ev_id
-- and ev_txid come from the column defaults
--
select pgq.current_event_table('qins_main') as cur_table \gset
select pg_temp.generic_name(:'cur_table') as current_table;
-- like an insert, it gives the transaction its txid before it reads the
-- queue row, so that the answer holds across a rotation (doc/pgq.md)
begin;
select pg_current_xact_id_if_assigned() is null as no_txid_yet;
select pgq.current_event_table('qins_main') = :'cur_table' as same_table;
select pg_current_xact_id_if_assigned() is not null as has_txid;
commit;
-- a read-only transaction may ask too
begin transaction read only;
select pgq.current_event_table('qins_main') = :'cur_table' as same_table;
rollback;
select pgq.seq_getval(:'qevseq') as seq_before \gset
begin;
insert into :cur_table (ev_time, ev_type, ev_data, ev_extra1)
values (now(), 'direct.insert', 'row 1', 'public.t');
copy :cur_table (ev_time, ev_type, ev_data, ev_extra1) from stdin;
2020-01-01 00:00:00+00	direct.copy	row 2	public.t
2020-01-01 00:00:01+00	direct.copy	row 3	\N
\.
select ev_id - :seq_before as id_after_last, ev_txid = txid_current() as txid_default,
       ev_time = now() as time_now, ev_type, ev_data, ev_extra1
  from qins_events where ev_type like 'direct.%' order by ev_id;
commit;
select pgq.seq_getval(:'qevseq') - :seq_before as ids_used;
-- ev_time has no default
-- (caught in a block: the error text names the table and the txid)
do $$
begin
    execute format('insert into %s (ev_type) values (%L)',
                   pgq.current_event_table('qins_main'), 'no time');
exception when not_null_violation then
    raise warning 'insert without ev_time refused: %', sqlstate;
end
$$;
select count(*) as rows_without_time from qins_events where ev_type = 'no time';
drop view qins_events;

select pgq.drop_queue('qins_main');
select pgq.drop_queue('qins_limit');
select pgq.drop_queue('qins_other');
select count(*) as queues_left from pgq.queue;
