--
-- pgq_node: cascaded queues (pgq-companions.md section 1, as pgq_node 3.5
-- has it).  This file creates the extension and goes through every
-- function, ret_code and event on one database playing the nodes of a
-- cascade; pgq_node_02_security.sql checks privileges and drops the
-- extension.  Errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
\pset null '~'

create extension pgq_node;

select pgq_node.version() = extversion as matches_extension,
       pgq_node.version() >= '3.5' as not_below_original,
       extrelocatable, extnamespace::regnamespace as extension_schema,
       (select array_agg(r.extname) from pg_extension r
         where r.oid in (select d.refobjid from pg_depend d
                          where d.classid = 'pg_extension'::regclass
                            and d.objid = e.oid
                            and d.refclassid = 'pg_extension'::regclass)) as requires,
       (select array_agg(c::regclass order by c::regclass::text)
          from unnest(extconfig) c) as dumped_tables,
       extcondition
  from pg_extension e where extname = 'pgq_node';

-- Everything it creates lives in schema pgq_node
select member from (
    select pg_describe_object(d.classid, d.objid, 0) as member
      from pg_depend d
     where d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
       and d.refobjid = (select oid from pg_extension where extname = 'pgq_node')) m
 order by member collate "C";

-- Tables: columns and constraints as in 3.5
select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) as type,
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid) as default
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
 where c.relnamespace = 'pgq_node'::regnamespace and c.relkind = 'r'
 order by c.relname collate "C", a.attnum;
select conrelid::regclass as table_name, conname, pg_get_constraintdef(oid) as definition
  from pg_constraint
 where connamespace = 'pgq_node'::regnamespace
 order by conrelid::regclass::text collate "C", conname collate "C";

-- Functions: signatures, results, security definer where 3.5 has it, a
-- pinned search_path everywhere
select p.oid::regprocedure as function, pg_get_function_result(p.oid) as result,
       p.prosecdef as security_definer, p.proconfig as config
  from pg_proc p
 where p.pronamespace = 'pgq_node'::regnamespace
 order by p.proname collate "C", p.pronargs;
select p.proname, pg_get_function_arguments(p.oid) as arguments
  from pg_proc p
 where p.pronamespace = 'pgq_node'::regnamespace
 order by p.proname collate "C", p.pronargs;

-- tick exactly when asked to; event and tick ids from known values
create function pg_temp.quiet_queue(q text) returns void
language sql
as $$
    select pgq.set_queue_config(q, 'ticker_max_count', '1');
    select pgq.set_queue_config(q, 'ticker_max_lag', '1 hour');
    select pgq.set_queue_config(q, 'ticker_idle_period', '1 hour');
$$;
-- the cascade events in a queue, oldest first
create function pg_temp.cascade_events(q text)
returns table (ev_type text, ev_data text, ev_extra1 text, ev_extra2 text, ev_extra3 text)
language plpgsql
as $$
begin
    return query execute format(
        'select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3 from %s'
        ' where ev_type like ''pgq.%%'' order by ev_id',
        (select queue_data_pfx from pgq.queue where queue_name = q));
end
$$;
-- pgq's view of the positions on a queue
create function pg_temp.positions(q text)
returns table (consumer_name text, last_tick bigint)
language sql
as $$
    select consumer_name, last_tick from pgq.get_consumer_info(q) order by consumer_name collate "C"
$$;

--
-- Node map
--
select * from pgq_node.register_location('cq', 'root1', 'dbname=root1', false);
select * from pgq_node.register_location('cq', 'branch1', 'dbname=branch1', false);
select * from pgq_node.register_location('cq', 'leaf1', 'dbname=leaf1', false);
-- a NULL location of a new node adds nothing, of a known one keeps it
select * from pgq_node.register_location('cq', 'ghost', null, true);
select * from pgq_node.register_location('cq', 'leaf1', null, true);
select * from pgq_node.get_queue_locations('cq') order by node_name collate "C";
select * from pgq_node.register_location('cq', 'leaf1', 'dbname=leaf1b', false);
select * from pgq_node.get_queue_locations('cq') order by node_name collate "C";
select * from pgq_node.get_queue_locations('nosuch');
-- not a node yet: no events, location removal allowed
select * from pgq_node.unregister_location('cq', 'ghost');
select * from pgq_node.register_location('cq', 'ghost', 'dbname=ghost', false);
select * from pgq_node.unregister_location('cq', 'ghost');

--
-- Not a node
--
select * from pgq_node.get_node_info('cq');
select * from pgq_node.get_worker_state('cq');
select * from pgq_node.get_consumer_state('cq', 'w');
select pgq_node.is_root_node('cq');
\echo :LAST_ERROR_SQLSTATE
select pgq_node.is_leaf_node('cq');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.set_node_attrs('cq', 'a=1');
select * from pgq_node.set_global_watermark('cq', 1);
select * from pgq_node.demote_root('cq', 1, 'x');
select * from pgq_node.promote_branch('cq');
select * from pgq_node.register_subscriber('cq', 'leaf1', 'w', null);
select * from pgq_node.register_consumer('cq', 'c', 'root1', 1);
select * from pgq_node.unregister_consumer('cq', 'c');
select pgq_node.maint_watermark('cq');

--
-- Root
--
select * from pgq_node.create_node('cq', 'root', 'root1', 'w_root', 'branch1', null, null);
select * from pgq_node.create_node('cq', 'root', 'root1', 'w_root', null, 1, null);
select * from pgq_node.create_node('cq', 'root', 'root1', 'w_root', null, null, 'x');
select * from pgq_node.create_node('cq', 'trunk', 'root1', 'w_root', null, null, null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.create_node('cq', 'root', 'root1', 'w_root', null, null, null);
select pg_temp.quiet_queue('cq');
select setval(queue_event_seq::regclass, 100) > 0 as event_ids_set
  from pgq.queue where queue_name = 'cq';
select * from pgq_node.create_node('cq', 'root', 'root1', 'w_root', null, null, null);
select queue_disable_insert, queue_external_ticker from pgq.queue where queue_name = 'cq';
select * from pg_temp.positions('cq');
select * from pgq_node.get_node_info('cq');
select * from pgq_node.get_worker_state('cq');
select pgq_node.is_root_node('cq'), pgq_node.is_leaf_node('cq');
select * from pgq_node.get_consumer_info('cq');
select * from pgq_node.set_node_attrs('cq', 'sync_watermark=branch1');
select node_attrs from pgq_node.get_node_info('cq');
select pgq_node.upgrade_schema();

-- the root announces location changes
select * from pgq_node.register_location('cq', 'leaf1', null, true);
select * from pgq_node.register_location('cq', 'branch2', 'dbname=branch2', false);
select * from pgq_node.unregister_location('cq', 'branch2');
select * from pgq_node.unregister_location('cq', 'branch2');
select * from pgq_node.unregister_location('cq', 'root1');
select * from pg_temp.cascade_events('cq');

--
-- Provider side: a branch subscribes
--
select * from pgq_node.register_subscriber('cq', 'branch1', 'w_branch', null);
select * from pgq_node.get_subscriber_info('cq');
select * from pg_temp.positions('cq');
select pgq.insert_event('cq', 'data', 'one');
select pgq.ticker('cq');
select pgq.insert_event('cq', 'data', 'two');
select pgq.ticker('cq');
-- the branch's worker reports its position
select * from pgq_node.set_subscriber_watermark('cq', 'branch1', 2);
select * from pgq_node.set_subscriber_watermark('cq', 'branch1', 2);
select * from pgq_node.set_subscriber_watermark('cq', 'branch1', 1);
select * from pgq_node.set_subscriber_watermark('cq', 'nobody', 2);
select * from pgq_node.get_subscriber_info('cq');
-- the root's worker is at 3, branch1's worker at 1
select * from pgq_node.set_consumer_completed('cq', 'w_root', 3);
select * from pgq_node.get_node_info('cq');
-- global watermark: the lowest position below the root, published
select * from pgq_node.set_global_watermark('cq', null);
select * from pgq_node.get_node_info('cq');
select * from pgq_node.set_global_watermark('cq', 2);
select * from pg_temp.cascade_events('cq') where ev_type = 'pgq.global-watermark';
select * from pg_temp.positions('cq');
select last_tick_id from pgq_node.get_consumer_info('cq') where consumer_name = 'w_root';
-- maint_watermark publishes only when .global_watermark lags 5 minutes
select pgq_node.maint_watermark('cq');
select count(*) as global_watermark_events
  from pg_temp.cascade_events('cq') where ev_type = 'pgq.global-watermark';
update pgq.tick set tick_time = tick_time - '6 minutes'::interval
 where tick_queue = (select queue_id from pgq.queue where queue_name = 'cq');
select pgq_node.maint_watermark('cq');
select * from pg_temp.cascade_events('cq') where ev_type = 'pgq.global-watermark';
select pgq_node.maint_watermark('nosuch');
-- a subscriber cannot subscribe twice
select * from pgq_node.register_subscriber('cq', 'branch1', 'w_branch', null);
\echo :LAST_ERROR_SQLSTATE
-- removing a subscriber's location takes its subscription
select * from pgq_node.register_location('cq', 'branch9', 'dbname=branch9', false);
select * from pgq_node.register_subscriber('cq', 'branch9', 'w_branch9', 3);
select * from pg_temp.positions('cq');
select * from pgq_node.unregister_location('cq', 'branch9');
select * from pgq_node.get_subscriber_info('cq');
select * from pgq_node.unregister_subscriber('cq', 'branch9');
select * from pg_temp.positions('cq');

--
-- Subscriber side: cascaded consumers writing into a node
--
select * from pgq_node.register_consumer('cq', 'c1', 'branch1', 5);
select * from pgq_node.register_consumer('cq', 'c1', 'root1', 2);
select * from pgq_node.register_consumer('cq', 'c2', 'root1', null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.get_consumer_state('cq', 'c1');
select * from pgq_node.get_consumer_state('cq', 'nobody');
-- NULLs find nothing, and leave the note NULL as concatenation did in 3.5
select * from pgq_node.get_consumer_state(null, 'c1');
select * from pgq_node.get_consumer_state('cq', null);
select * from pgq_node.set_consumer_uptodate('cq', 'c1', true);
select * from pgq_node.set_consumer_uptodate('cq', 'nobody', true);
select * from pgq_node.set_consumer_paused('cq', 'c1', true);
select * from pgq_node.set_consumer_paused('cq', 'c1', true);
select * from pgq_node.set_consumer_paused('cq', 'c1', false);
select * from pgq_node.set_consumer_paused('cq', 'nobody', false);
select * from pgq_node.set_consumer_error('cq', 'c1', 'disk full');
select * from pgq_node.set_consumer_error('cq', 'nobody', 'x');
select * from pgq_node.get_consumer_info('cq');
select * from pgq_node.set_consumer_completed('cq', 'c1', 3);
select * from pgq_node.set_consumer_completed('cq', 'nobody', 3);
select * from pgq_node.set_consumer_error('cq', 'c1', null);
select * from pgq_node.change_consumer_provider('cq', 'c1', 'nowhere');
select * from pgq_node.change_consumer_provider('cq', 'nobody', 'branch1');
select * from pgq_node.change_consumer_provider('cq', 'c1', 'branch1');
select * from pgq_node.get_consumer_info('cq');
-- a consumer whose provider's location is gone
select * from pgq_node.register_location('cq', 'temp', 'dbname=temp', false);
select * from pgq_node.change_consumer_provider('cq', 'c1', 'temp');
delete from pgq_node.node_location where node_name = 'temp';
\echo :LAST_ERROR_SQLSTATE
alter table pgq_node.local_state drop constraint local_state_queue_name_provider_node_fkey;
delete from pgq_node.node_location where node_name = 'temp';
select * from pgq_node.get_consumer_state('cq', 'c1');
select * from pgq_node.unregister_consumer('cq', 'c1');
select * from pgq_node.unregister_consumer('cq', 'c1');
alter table pgq_node.local_state add foreign key (queue_name, provider_node)
    references pgq_node.node_location;

--
-- The location of the node itself and of its provider stay
--
select * from pgq_node.unregister_location('cq', 'root1');
select * from pgq_node.drop_node('cq', 'root1x');

--
-- Root demotion, in its three steps, then promotion back
--
select * from pgq_node.demote_root('cq', 2, 'branch1');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.demote_root('cq', 1, 'branch1');
select queue_disable_insert, queue_external_ticker from pgq.queue where queue_name = 'cq';
select pgq.insert_event('cq', 'data', 'refused');
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.demote_root('cq', 4, 'branch1');
\echo :LAST_ERROR_SQLSTATE
begin;
select * from pgq_node.demote_root('cq', 2, 'branch1');
-- as in 3.5, the rest of the transaction runs in the replica role
show session_replication_role;
commit;
select tick_id, tick_event_seq > 100 as covers_events
  from pgq.tick where tick_queue = (select queue_id from pgq.queue where queue_name = 'cq')
 order by tick_id desc limit 1;
select * from pgq_node.demote_root('cq', 3, 'branch1');
select * from pgq_node.get_node_info('cq');
select * from pgq_node.demote_root('cq', 1, 'branch1');
-- a branch forwards no location events and takes watermarks it has ticks for
select * from pgq_node.register_location('cq', 'leaf1', null, false);
select * from pgq_node.set_global_watermark('cq', null);
select * from pgq_node.set_global_watermark('cq', 999);
select * from pgq_node.set_global_watermark('cq', 3);
select count(*) as events_after_demotion
  from pg_temp.cascade_events('cq') where ev_type = 'pgq.location-info';
select pgq_node.maint_watermark('cq');
-- the provider (branch1) cannot be dropped from here, another node can
select * from pgq_node.drop_node('cq', 'branch1');
select * from pgq_node.promote_branch('cq');
select * from pgq_node.promote_branch('cq');
select queue_disable_insert, queue_external_ticker from pgq.queue where queue_name = 'cq';
select * from pgq_node.get_node_info('cq');
-- the next local tick comes after the copied ones
select pgq.insert_event('cq', 'data', 'three') > 0 as inserted;
select pgq.ticker('cq');

--
-- Branch and leaf on their own queues
--
select * from pgq_node.register_location('bq', 'root1', 'dbname=root1', false);
select * from pgq_node.register_location('bq', 'branch1', 'dbname=branch1', false);
select * from pgq_node.create_node('bq', 'branch', 'branch1', 'w_b', null, 7, null);
select * from pgq_node.create_node('bq', 'branch', 'branch1', 'w_b', 'root1', null, null);
select * from pgq_node.create_node('bq', 'branch', 'branch1', 'w_b', 'root1', 7, null);
select queue_disable_insert, queue_external_ticker from pgq.queue where queue_name = 'bq';
select tick_id, tick_event_seq from pgq.tick
 where tick_queue = (select queue_id from pgq.queue where queue_name = 'bq')
 order by tick_id;
select * from pg_temp.positions('bq');
select * from pgq_node.get_node_info('bq');
select * from pgq_node.get_worker_state('bq');
select pgq_node.is_root_node('bq'), pgq_node.is_leaf_node('bq');
select * from pgq_node.set_global_watermark('bq', null);
select * from pgq_node.set_global_watermark('bq', 6);
select * from pgq_node.set_global_watermark('bq', 7);
select * from pgq_node.register_location('bq', 'leaf2', 'dbname=leaf2', false);
select * from pgq_node.register_subscriber('bq', 'leaf2', 'w_leaf2', 7);
select count(*) as events_on_branch from pg_temp.cascade_events('bq');

-- merge-leaf: a leaf of part queue pq copying into combined queue bq
select * from pgq_node.register_location('pq', 'branch1', 'dbname=branch1', false);
select * from pgq_node.register_location('pq', 'proot', 'dbname=proot', false);
select * from pgq_node.create_node('pq', 'leaf', 'branch1', 'w_p', 'proot', 3, 'nosuch');
select * from pgq_node.create_node('pq', 'leaf', 'branch1', 'w_p', 'proot', 3, 'bq');
select count(*) as local_queue from pgq.queue where queue_name = 'pq';
select * from pgq_node.get_node_info('pq');
select * from pgq_node.get_worker_state('pq');
select target_for from pgq_node.get_node_info('bq');
select pgq_node.is_root_node('pq'), pgq_node.is_leaf_node('pq');
select * from pgq_node.register_subscriber('pq', 'leaf2', 'w', null);
select * from pgq_node.set_global_watermark('pq', 5);
select * from pgq_node.set_partition_watermark('bq', 'pq', 9);
select * from pgq_node.get_consumer_state('pq', 'w_p');
select * from pgq_node.set_partition_watermark('cq', 'pq', 9);
select * from pgq_node.set_partition_watermark('bq', 'nosuch', 9);
delete from pgq_node.local_state where queue_name = 'pq';
select * from pgq_node.set_partition_watermark('bq', 'pq', 10);
select * from pgq_node.get_worker_state('pq');
select * from pgq_node.register_consumer('pq', 'w_p', 'proot', 3);
update pgq_node.node_info set combined_queue = 'gone' where queue_name = 'pq';
select * from pgq_node.get_worker_state('pq');
select combined_queue, combined_type from pgq_node.get_node_info('pq');
update pgq_node.node_info set combined_queue = 'bq' where queue_name = 'pq';
-- a leaf with no combined queue
select * from pgq_node.register_location('lq', 'leaf1', 'dbname=leaf1', false);
select * from pgq_node.register_location('lq', 'root1', 'dbname=root1', false);
select * from pgq_node.create_node('lq', 'leaf', 'leaf1', 'w_l', 'root1', null, null);
\echo :LAST_ERROR_SQLSTATE
select * from pgq_node.create_node('lq', 'leaf', 'leaf1', 'w_l', 'root1', 4, null);
select * from pgq_node.get_node_info('lq');
select * from pgq_node.get_worker_state('lq');
select * from pgq_node.set_global_watermark('lq', 4);
select * from pgq_node.create_node('lq', 'leaf', 'leaf1', 'w_l', 'root1', 4, null);

-- a worker whose provider's location is gone, and a node without worker state
alter table pgq_node.local_state drop constraint local_state_queue_name_provider_node_fkey;
delete from pgq_node.node_location where queue_name = 'lq' and node_name = 'root1';
select ret_code, ret_note, provider_node, provider_location from pgq_node.get_worker_state('lq');
delete from pgq_node.local_state where queue_name = 'lq';
select ret_code, ret_note, node_type, worker_name, completed_tick from pgq_node.get_worker_state('lq');
select ret_code, worker_name, worker_last_tick, local_watermark from pgq_node.get_node_info('lq');
alter table pgq_node.local_state add foreign key (queue_name, provider_node)
    references pgq_node.node_location;

--
-- Dropping nodes
--
-- another node: its subscription and location go, the root tells the others
select * from pgq_node.register_location('cq', 'branch3', 'dbname=branch3', false);
select * from pgq_node.register_subscriber('cq', 'branch3', 'w_branch3', null);
select * from pgq_node.drop_node('cq', 'branch3');
select * from pgq_node.get_subscriber_info('cq');
select * from pg_temp.cascade_events('cq') where ev_data = 'branch3';
select * from pgq_node.drop_node('cq', 'branch1');
-- the node itself: all of the queue's state and its local queue
select * from pgq_node.drop_node('bq', 'branch1');
select count(*) as bq_queue from pgq.queue where queue_name = 'bq';
select * from pgq_node.get_queue_locations('bq');
select * from pgq_node.drop_node('pq', 'branch1');
select * from pgq_node.drop_node('lq', 'leaf1');
select * from pgq_node.drop_node('cq', 'root1');
select * from pgq_node.get_node_info('cq');
select count(*) as cq_queue from pgq.queue where queue_name = 'cq';
-- a node that is gone already: leftovers are cleaned up
select * from pgq_node.register_location('zq', 'z1', 'dbname=z1', false);
select * from pgq_node.register_location('zq', 'z2', 'dbname=z2', false);
select * from pgq_node.drop_node('zq', 'z1');
select queue_name, count(*) from pgq_node.node_location group by 1 order by 1;
select count(*) as consumers_left from pgq.consumer where co_name like '.%' or co_name like 'w\_%';

drop function pg_temp.quiet_queue(text);
drop function pg_temp.cascade_events(text);
drop function pg_temp.positions(text);
