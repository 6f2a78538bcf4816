--
-- Queue administration: create_queue, name validation, per-queue objects,
-- grant_perms, _grant_perms_from, tune_storage, set_queue_config,
-- current_event_table and drop_queue (pgq-api.md 3.6, 5.1, 6.1, 6.2).
-- Errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

-- Queue ids depend on earlier tests: show per-queue object names with the
-- id replaced by N.
create function pg_temp.generic_name(name text) returns text
language sql immutable
as $$ select regexp_replace($1, 'event_[0-9]+', 'event_N', 'g') $$;
create function pg_temp.grantee_name(grantee oid) returns text
language sql stable
as $$ select case when $1 = 0 then 'PUBLIC' else pg_get_userbyid($1) end $$;

--
-- create_queue
--
select pgq.create_queue('qadmin_main');
-- an existing queue is not an error: 0
select pgq.create_queue('qadmin_main');
select count(*) from pgq.queue where queue_name = 'qadmin_main';

select queue_id as qid, queue_data_pfx as qpfx, queue_event_seq as qevseq,
       queue_tick_seq as qtickseq
  from pgq.queue where queue_name = 'qadmin_main' \gset

-- the queue row: naming rule of the per-queue objects and the defaults
select queue_data_pfx = 'pgq.event_' || queue_id as data_pfx_ok,
       queue_event_seq = 'pgq.event_' || queue_id || '_id_seq' as event_seq_ok,
       queue_tick_seq = 'pgq.event_' || queue_id || '_tick_seq' as tick_seq_ok,
       queue_ntables, queue_cur_table, queue_rotation_period,
       queue_switch_step1 > 0 as step1_set,
       queue_switch_step2 is not null as step2_set,
       queue_switch_time <= now() as switch_time_ok,
       queue_external_ticker, queue_disable_insert, queue_ticker_paused,
       queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_idle_period,
       queue_per_tx_limit, queue_extra_maint
  from pgq.queue where queue_name = 'qadmin_main';

-- the id was drawn from the serial sequence
select :qid <= last_value as id_from_sequence from pgq.queue_queue_id_seq;

-- the first tick is made at once: id 1, no event issued yet (quirk Q1)
select tick_id, tick_event_seq, tick_time <= now() as time_ok,
       txid_snapshot_xmax(tick_snapshot) > 0 as has_snapshot
  from pgq.tick where tick_queue = :qid;
select pgq.seq_getval(:'qtickseq') as tick_seq, pgq.seq_getval(:'qevseq') as event_seq;

-- per-queue objects: sequences, parent table, three children with index
select pg_temp.generic_name(c.oid::regclass::text) as object, c.relkind,
       (select string_agg(pg_temp.generic_name(i.inhparent::regclass::text), ',')
          from pg_inherits i where i.inhrelid = c.oid) as inherits,
       c.reloptions,
       (select t.reloptions from pg_class t where t.oid = c.reltoastrelid) as toast_options
  from pg_class c
 where c.relnamespace = 'pgq'::regnamespace
   and c.relname ~ ('^event_' || :qid || '(_|$)')
 order by c.relname collate "C";
select pg_temp.generic_name(pg_get_indexdef(indexrelid)) as index_definition
  from pg_index
 where indrelid::regclass::text like :'qpfx' || '\_%'
 order by indexrelid::regclass::text collate "C";
-- the children have no columns of their own, and ev_id draws from the queue's sequence
select pg_temp.generic_name(a.attrelid::regclass::text) as event_table, a.attname,
       pg_temp.generic_name(pg_get_expr(d.adbin, d.adrelid)) as default_expr,
       a.attislocal
  from pg_attribute a
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where a.attrelid::regclass::text like :'qpfx' || '\_%'
   and a.attname in ('ev_id', 'ev_txid')
 order by a.attrelid::regclass::text collate "C", a.attname collate "C";
select count(*) as own_columns
  from pg_attribute
 where attrelid::regclass::text like :'qpfx' || '%' and attnum > 0 and attislocal;

-- per-queue privileges, as grant_perms sets them
select pg_temp.generic_name(c.oid::regclass::text) as object,
       pg_temp.grantee_name(x.grantee) as grantee,
       string_agg(x.privilege_type || case when x.is_grantable then '*' else '' end,
                  ', ' order by x.privilege_type collate "C") as privileges
  from pg_class c, aclexplode(c.relacl) x
 where c.relnamespace = 'pgq'::regnamespace
   and c.relname ~ ('^event_' || :qid || '(_|$)')
   and x.grantee <> c.relowner
 group by c.oid, x.grantee
 order by c.relname collate "C", pg_temp.grantee_name(x.grantee) collate "C";

-- names are text: quotes, dots, spaces and mixed case are fine
select pgq.create_queue('qadmin "Odd".name');
select pgq.insert_event('qadmin "Odd".name', 'odd', 'data') as ev_id;
select queue_name, last_tick_id from pgq.get_queue_info('qadmin "Odd".name');
select pgq.drop_queue('qadmin "Odd".name');

--
-- Name validation on create (brief: 1..63 bytes, no control characters)
--
select pgq.create_queue(null);
\echo SQLSTATE :SQLSTATE
select pgq.create_queue('');
\echo SQLSTATE :SQLSTATE
select pgq.create_queue(E'qadmin\tbad');
\echo SQLSTATE :SQLSTATE
select pgq.create_queue(E'qadmin\nbad');
\echo SQLSTATE :SQLSTATE
select pgq.create_queue('qadmin' || chr(127));
\echo SQLSTATE :SQLSTATE
-- 64 bytes: too long
select pgq.create_queue(repeat('x', 64));
\echo SQLSTATE :SQLSTATE
-- 32 two-byte characters are 64 bytes: too long as well
select pgq.create_queue(repeat(U&'\00e9', 32));
\echo SQLSTATE :SQLSTATE
-- exactly 63 bytes is accepted
select pgq.create_queue(repeat('y', 63));
select octet_length(queue_name) from pgq.queue where queue_name = repeat('y', 63);
select pgq.drop_queue(repeat('y', 63));
-- nothing was left behind by the refused names
select count(*) as queues from pgq.queue where queue_name <> 'qadmin_main';

-- Lookups never validate names: unknown names are just unknown
select pgq.drop_queue('');
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue(repeat('x', 64));
\echo SQLSTATE :SQLSTATE
select count(*) from pgq.get_queue_info('');

--
-- set_queue_config: the six settable keys, without the queue_ prefix
--
select pgq.set_queue_config('qadmin_main', 'ticker_max_count', '42');
select pgq.set_queue_config('qadmin_main', 'ticker_max_lag', '7 seconds');
select pgq.set_queue_config('qadmin_main', 'ticker_idle_period', '2 minutes');
select pgq.set_queue_config('qadmin_main', 'ticker_paused', 'true');
select pgq.set_queue_config('qadmin_main', 'rotation_period', '3 hours');
select pgq.set_queue_config('qadmin_main', 'external_ticker', 'on');
select queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_idle_period,
       queue_ticker_paused, queue_rotation_period, queue_external_ticker
  from pgq.queue where queue_name = 'qadmin_main';
select pgq.set_queue_config('qadmin_main', 'ticker_paused', 'false');
select pgq.set_queue_config('qadmin_main', 'external_ticker', 'false');
select pgq.set_queue_config('qadmin_main', 'ticker_max_count', '500');
select pgq.set_queue_config('qadmin_main', 'ticker_max_lag', '3 seconds');
select pgq.set_queue_config('qadmin_main', 'ticker_idle_period', '1 minute');
select pgq.set_queue_config('qadmin_main', 'rotation_period', '2 hours');
select queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_idle_period,
       queue_ticker_paused, queue_rotation_period, queue_external_ticker
  from pgq.queue where queue_name = 'qadmin_main';

-- unknown or non-settable parameters, named as given (quirk Q3 fixed)
select pgq.set_queue_config('qadmin_main', 'no_such_param', '1');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'queue_ticker_max_count', '1');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'disable_insert', 'true');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'per_tx_limit', '1');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'ntables', '4');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'max_events_per_tx', '1');
\echo SQLSTATE :SQLSTATE
-- values are cast to the column type
select pgq.set_queue_config('qadmin_main', 'ticker_max_count', 'many');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'ticker_max_lag', 'soon');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'ticker_paused', 'perhaps');
\echo SQLSTATE :SQLSTATE
-- Intervals of about 300,000 years and more do not fit in 64-bit
-- microseconds.  As ticker settings they are accepted and never reached
-- (pgq_04_ticker); a rotation period must still give a valid timestamp
-- when maintenance adds it to the time of the last rotation, so one that
-- does not is refused and maintenance keeps working.
select pgq.set_queue_config('qadmin_main', 'ticker_max_lag', '300000 years');
select pgq.set_queue_config('qadmin_main', 'ticker_idle_period', '-178000000 years');
select pgq.set_queue_config('qadmin_main', 'rotation_period', '300000 years');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'rotation_period', '-10000 years');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'rotation_period', '178000000 years');
\echo SQLSTATE :SQLSTATE
select count(*) >= 0 as maintenance_works from pgq.maint_operations();
select pgq.set_queue_config('qadmin_main', 'rotation_period', '1000 years');
select queue_ticker_max_lag, queue_ticker_idle_period, queue_rotation_period
  from pgq.queue where queue_name = 'qadmin_main';
select pgq.set_queue_config('qadmin_main', 'ticker_max_lag', '3 seconds');
select pgq.set_queue_config('qadmin_main', 'ticker_idle_period', '1 minute');
select pgq.set_queue_config('qadmin_main', 'rotation_period', '2 hours');
-- NULLs and unknown queues
select pgq.set_queue_config(null, 'ticker_max_count', '1');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', null, '1');
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_main', 'ticker_max_count', null);
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qadmin_nosuch', 'ticker_max_count', '1');
\echo SQLSTATE :SQLSTATE
-- none of the refused calls changed anything
select queue_ticker_max_count, queue_ticker_max_lag, queue_ticker_paused,
       queue_disable_insert, queue_per_tx_limit, queue_ntables
  from pgq.queue where queue_name = 'qadmin_main';

--
-- current_event_table: the unquoted name of the table receiving inserts
--
select pgq.current_event_table('qadmin_main') = :'qpfx' || '_0' as is_table_0;
select pgq.current_event_table('qadmin_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.current_event_table(null);
\echo SQLSTATE :SQLSTATE

--
-- grant_perms copies the privileges of pgq.event_template to every event
-- table, including grants added later and grant options
--
create role pgq_qadmin_auditor nologin;
grant select on pgq.event_template to pgq_qadmin_auditor with grant option;
grant select on pgq.event_template to public;
select pgq.grant_perms('qadmin_main');
select pg_temp.generic_name(c.oid::regclass::text) as object,
       pg_temp.grantee_name(x.grantee) as grantee,
       string_agg(x.privilege_type || case when x.is_grantable then '*' else '' end,
                  ', ' order by x.privilege_type collate "C") as privileges
  from pg_class c, aclexplode(c.relacl) x
 where c.relnamespace = 'pgq'::regnamespace
   and c.relname ~ ('^event_' || :qid || '(_[0-9]+)?$')
   and pg_temp.grantee_name(x.grantee) in ('PUBLIC', 'pgq_qadmin_auditor')
 group by c.oid, x.grantee
 order by c.relname collate "C", pg_temp.grantee_name(x.grantee) collate "C";
revoke select on pgq.event_template from pgq_qadmin_auditor, public;
select pgq.grant_perms('qadmin_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.grant_perms(null);
\echo SQLSTATE :SQLSTATE

-- _grant_perms_from works on any pair of tables; STRICT
create table public.qadmin_src (x int);
create table public.qadmin_dst (x int);
grant select on public.qadmin_src to pgq_reader;
grant insert, update on public.qadmin_src to pgq_qadmin_auditor with grant option;
grant select on public.qadmin_src to public;
select pgq._grant_perms_from('public', 'qadmin_src', 'public', 'qadmin_dst');
select pg_temp.grantee_name(x.grantee) as grantee,
       string_agg(x.privilege_type || case when x.is_grantable then '*' else '' end,
                  ', ' order by x.privilege_type collate "C") as privileges
  from pg_class c, aclexplode(c.relacl) x
 where c.oid = 'public.qadmin_dst'::regclass and x.grantee <> c.relowner
 group by x.grantee
 order by pg_temp.grantee_name(x.grantee) collate "C";
select pgq._grant_perms_from('public', 'qadmin_src', null, 'qadmin_dst') is null as strict;
drop table public.qadmin_src, public.qadmin_dst;

--
-- tune_storage: storage options of the event tables; 0 for unknown queues
--
do $$
begin
    execute format('alter table %s reset (fillfactor, autovacuum_enabled,'
                   ' toast.autovacuum_enabled)',
                   (select queue_data_pfx || '_1' from pgq.queue
                     where queue_name = 'qadmin_main'));
end
$$;
select pg_temp.generic_name(c.oid::regclass::text) as event_table, c.reloptions
  from pg_class c where c.oid = (:'qpfx' || '_1')::regclass;
select pgq.tune_storage('qadmin_main');
select pg_temp.generic_name(c.oid::regclass::text) as event_table, c.reloptions,
       (select t.reloptions from pg_class t where t.oid = c.reltoastrelid) as toast_options
  from pg_class c where c.oid = (:'qpfx' || '_1')::regclass;
select pgq.tune_storage('qadmin_nosuch');
select pgq.tune_storage(null) is null as strict;

--
-- drop_queue
--
select pgq.drop_queue('qadmin_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue('qadmin_nosuch', true);
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue(null, true);
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue(null) is null as strict;

-- consumers block a plain drop; retry rows and consumers go with a forced one
select pgq.create_queue('qadmin_other');
select pgq.register_consumer('qadmin_main', 'qadmin_c1');
select pgq.register_consumer('qadmin_main', 'qadmin_c2');
select pgq.register_consumer('qadmin_other', 'qadmin_c2');
select pgq.event_retry_raw('qadmin_main', 'qadmin_c1', now() + interval '1 hour',
                           null, now(), 3, 'retry', 'payload', null, null, null, null) > 0 as retry_stored;
select pgq.drop_queue('qadmin_main');
\echo SQLSTATE :SQLSTATE
select pgq.drop_queue('qadmin_main', false);
\echo SQLSTATE :SQLSTATE
-- still complete
select count(*) as event_tables from pg_class
 where relnamespace = 'pgq'::regnamespace and relname ~ ('^event_' || :qid || '(_|$)');
select pgq.drop_queue('qadmin_main', true);
-- everything of the queue is gone: tables, sequences, ticks, rows
select count(*) as per_queue_objects from pg_class
 where relnamespace = 'pgq'::regnamespace and relname ~ ('^event_' || :qid || '(_|$)');
select (select count(*) from pgq.queue where queue_id = :qid) as queue_rows,
       (select count(*) from pgq.tick where tick_queue = :qid) as ticks,
       (select count(*) from pgq.subscription where sub_queue = :qid) as subscriptions,
       (select count(*) from pgq.retry_queue where ev_queue = :qid) as retry_rows;
-- qadmin_c1 had no other subscription; qadmin_c2 is still on qadmin_other
select co_name from pgq.consumer where co_name like 'qadmin%' order by co_name collate "C";
select queue_name, consumer_name from pgq.get_consumer_info() where queue_name like 'qadmin%';
select pgq.drop_queue('qadmin_main');
\echo SQLSTATE :SQLSTATE
-- a queue without consumers drops without force; the one-argument form
select pgq.unregister_consumer('qadmin_other', 'qadmin_c2');
select pgq.drop_queue('qadmin_other');
select count(*) as consumers_left from pgq.consumer where co_name like 'qadmin%';

-- the name can be used again
select pgq.create_queue('qadmin_main');
select tick_id, tick_event_seq from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
 where q.queue_name = 'qadmin_main';
select pgq.drop_queue('qadmin_main');

drop role pgq_qadmin_auditor;
select count(*) as queues_left from pgq.queue;
