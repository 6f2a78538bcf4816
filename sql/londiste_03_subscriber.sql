--
-- londiste on branch and leaf nodes (londiste.md 1.4, 1.5): subscribing
-- to what the root offers, deny triggers on leaves, sequences published
-- by a root and followed elsewhere, EXECUTE scripts.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

create table stock (sku text primary key, amount int);
create table stock_copy (sku text primary key, amount int);
create table counters (id serial primary key, big_id bigserial, small smallserial, note text);
create sequence order_seq;
create sequence unknown_seq;

select ret_code from pgq_node.register_location('bq', 'branchnode', 'dbname=branchdb', false);
select ret_code from pgq_node.register_location('bq', 'upnode', 'dbname=updb', false);
select ret_code from pgq_node.create_node('bq', 'branch', 'branchnode', 'bq_worker', 'upnode', 1, null);

--
-- Tables on a branch
--
-- nothing can be subscribed before the root has offered it
select * from londiste.local_add_table('bq', 'stock');
-- the add-table event arrives (the worker calls global_add_table)
select * from londiste.global_add_table('bq', 'stock');
select * from londiste.global_add_table('bq', 'public.stock_copy');
select * from londiste.local_show_missing('bq');
-- subscribing leaves the state NULL: the worker must copy the table first
select * from londiste.local_add_table('bq', 'stock');
select * from londiste.get_table_list('bq');
-- a branch gets plain capture triggers: its own changes enter its queue
select tgname, encode(tgargs, 'escape') from pg_trigger
 where tgrelid = 'stock'::regclass order by 1;
-- expect_sync: in sync already, no copy; a local name differing from the
-- queue's table name is stored and described
select * from londiste.local_add_table('bq', 'stock_copy', array['expect_sync'], null, 'stock');
select * from londiste.local_add_table('bq', 'public.stock_copy', array['expect_sync'], null, 'nosuch');
select * from londiste.local_add_table('bq', 'public.stock_copy', array['expect_sync'], 'a=1', 'stock_copy');
select * from londiste.get_table_list('bq');
select * from londiste.local_show_missing('bq');
-- the copy's progress
select * from londiste.local_set_table_state('bq', 'stock', '10:20:', 'in-copy');
select * from londiste.get_table_list('bq') where table_name = 'public.stock';
-- a non-root node does not queue the removal, and an unsubscribed table
-- cannot be removed locally
select * from londiste.local_remove_table('bq', 'stock');
select * from londiste.local_remove_table('bq', 'stock');
select * from londiste.get_table_list('bq') where table_name = 'public.stock';
-- the remove-table event forgets it
select * from londiste.global_remove_table('bq', 'public.stock');
select * from londiste.global_remove_table('bq', 'public.stock');
-- on a non-root node, global removal unsubscribes first
select * from londiste.global_remove_table('bq', 'stock_copy');
select tgname from pg_trigger where tgrelid = 'stock_copy'::regclass and not tgisinternal;
-- a leftover copy is undone on removal: the data goes and the dropped DDL
-- is re-created
select * from londiste.global_add_table('bq', 'stock');
select * from londiste.local_add_table('bq', 'stock');
-- (a branch's queue takes events from the replay only)
select londiste.set_session_replication_role('replica', false);
insert into stock values ('x', 1);
select londiste.set_session_replication_role('origin', false);
select * from londiste.local_set_table_state('bq', 'stock', null, 'in-copy');
select * from londiste.local_set_table_struct('bq', 'public.stock',
    'create index stock_amount on public.stock (amount)');
select * from londiste.local_remove_table('bq', 'stock');
select count(*) as rows_left from stock;
select indexrelid::regclass from pg_index where indrelid = 'stock'::regclass order by 1;
select * from londiste.table_info where table_name = 'public.stock';

--
-- Sequences on a branch: known through the root's update-seq events
--
select * from londiste.local_add_seq('bq', 'nosuch_seq');
select * from londiste.local_add_seq('bq', 'order_seq');
select * from londiste.global_update_seq('bq', 'order_seq', 500);
select * from londiste.get_seq_list('bq');
select * from londiste.local_add_seq('bq', 'order_seq');
select last_value, is_called from order_seq;
select * from londiste.local_add_seq('bq', 'public.order_seq');
-- later values move the local sequence; a lower one moves nothing back
select * from londiste.global_update_seq('bq', 'order_seq', 700);
select last_value from order_seq;
select * from londiste.global_update_seq('bq', 'order_seq', 600);
select last_value from order_seq;
select * from londiste.global_update_seq('noq', 'order_seq', 1);
select * from londiste.root_check_seqs('bq');
select * from londiste.root_check_seqs('noq');
select * from londiste.local_show_missing('bq');
select * from londiste.local_remove_seq('bq', 'order_seq');
select * from londiste.local_remove_seq('bq', 'order_seq');
select * from londiste.global_update_seq('bq', 'order_seq', 900);
select last_value from order_seq;
select * from londiste.global_remove_seq('bq', 'order_seq');
select * from londiste.global_remove_seq('bq', 'order_seq');
select * from londiste.get_seq_list('bq');

-- the sequences of int4/int8 serial columns go with their table (not
-- those of other types)
select * from londiste.global_update_seq('bq', 'counters_id_seq', 10);
select * from londiste.global_update_seq('bq', 'counters_big_id_seq', 20);
select * from londiste.global_update_seq('bq', 'counters_small_seq', 30);
select * from londiste.local_add_seq('bq', 'counters_id_seq');
select * from londiste.local_add_seq('bq', 'counters_big_id_seq');
select * from londiste.local_add_seq('bq', 'counters_small_seq');
select * from londiste.global_add_table('bq', 'counters');
select * from londiste.local_add_table('bq', 'counters');
select * from londiste.local_remove_table('bq', 'counters');
select * from londiste.get_seq_list('bq');

--
-- EXECUTE on a branch
--
select * from londiste.execute_start('bq', 'schema_v2.sql', 'alter table stock add v int', true);
select * from londiste.execute_start('bq', 'schema_v2.sql', 'alter table stock add v int', false);
select * from londiste.execute_start('bq', 'schema_v2.sql', 'alter table stock add v int', false);
select * from londiste.execute_finish('bq', 'schema_v2.sql');
select * from londiste.execute_finish('bq', 'schema_v3.sql');
select queue_name, execute_file, execute_sql, execute_attrs from londiste.applied_execute;
-- file names are global to the database, whatever the queue
select * from londiste.execute_start('otherq', 'schema_v2.sql', 'x', false, 'tables=a');

--
-- Sequences and EXECUTE on a root
--
select ret_code from pgq_node.register_location('sq', 'sroot', 'dbname=rootdb', false);
select ret_code from pgq_node.create_node('sq', 'root', 'sroot', 'sq_worker', null, null, null);
select * from londiste.local_add_seq('sq', 'unknown_seq');
select * from londiste.local_add_seq('sq', 'unknown_seq');
select * from londiste.get_seq_list('sq');
-- within the buffer of the published value nothing is published again
select setval('unknown_seq', 15000);
select * from londiste.root_check_seqs('sq');
select * from londiste.get_seq_list('sq');
select setval('unknown_seq', 20001);
select * from londiste.root_check_seqs('sq', 5);
select * from londiste.get_seq_list('sq');
select * from londiste.root_check_seqs('sq', 100);
select * from londiste.get_seq_list('sq');
select * from londiste.global_update_seq('sq', 'unknown_seq', 1);
-- the root publishes EXECUTE scripts, each time they finish
select * from londiste.execute_start('sq', 'root.sql', 'select 1', true, 'tables=public.stock');
select * from londiste.execute_finish('sq', 'root.sql');
select * from londiste.execute_finish('sq', 'root.sql');
-- removal from the root is queued
select * from londiste.local_remove_seq('sq', 'unknown_seq');
select * from londiste.local_remove_seq('sq', 'unknown_seq');
select ev_type, ev_data, ev_extra1, ev_extra2 from pgq.event_template order by ev_id;
select londiste.root_notify_change('bq', 'x', 'y');
\echo :LAST_ERROR_SQLSTATE
select londiste.root_notify_change('noq', 'x', 'y');
\echo :LAST_ERROR_SQLSTATE

-- periodic maintenance forgets scripts older than three months
update londiste.applied_execute set execute_time = now() - '3 months 1 day'::interval
 where execute_file = 'root.sql';
select londiste.periodic_maintenance();
select execute_file from londiste.applied_execute order by 1;

--
-- Leaf: changes made locally are refused
--
select ret_code from pgq_node.register_location('lq', 'leafnode', 'dbname=leafdb', false);
select ret_code from pgq_node.register_location('lq', 'lqroot', 'dbname=rootdb', false);
select ret_code from pgq_node.create_node('lq', 'leaf', 'leafnode', 'lq_worker', 'lqroot', 1, null);
select * from londiste.global_add_table('lq', 'stock');
-- queues without a combined queue count as sources of one table (3.8's
-- rule): the leaf must say whether to merge them.  As in 3.8 a code of
-- 400 or more leaves what the call changed before: callers roll back.
begin;
select * from londiste.local_add_table('lq', 'stock', array['tgflags=J']);
select queue_name, local from londiste.table_info where table_name = 'public.stock';
rollback;
select * from londiste.local_add_table('lq', 'stock', array['tgflags=J', 'no_merge']);
select tgname, tgfoid::regproc, encode(tgargs, 'escape') from pg_trigger
 where tgrelid = 'stock'::regclass and not tgisinternal order by 1;
insert into stock values ('y', 2);
\echo :LAST_ERROR_SQLSTATE
truncate stock;
\echo :LAST_ERROR_SQLSTATE
-- the worker applies in replica role, where the triggers do not fire
select londiste.set_session_replication_role('replica', true);
insert into stock values ('y', 2);
select londiste.set_session_replication_role('origin', true);
select * from londiste.local_remove_table('lq', 'stock');
select * from londiste.local_remove_table('lq', 'stock');
select * from londiste.local_remove_table('lq', 'nosuch');
drop table stock;

select ret_code from pgq_node.drop_node('lq', 'leafnode');
select ret_code from pgq_node.drop_node('sq', 'sroot');
select ret_code from pgq_node.drop_node('bq', 'branchnode');
drop table stock_copy, counters;
drop sequence order_seq, unknown_seq;
drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
