--
-- londiste merging several queues into one table on a node (londiste.md
-- 1.6): a "combined" root queue fed by leaf queues of the same database,
-- the copy roles _coordinate_copy hands out, and which queue restores
-- pending foreign keys.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

create extension londiste cascade;

create table sales (id int primary key, region text);

-- queue "total" is the root this database publishes; queues "east",
-- "west" and "north" are leaves that feed it
select ret_code from pgq_node.register_location('total', 'total_root', 'dbname=hub', false);
select ret_code from pgq_node.create_node('total', 'root', 'total_root', 'total_worker', null, null, null);
select r.ret_code from (values ('east'), ('west'), ('north')) v(q),
       pgq_node.register_location(q, q || '_src', 'dbname=' || q, false) r;
select r.ret_code from (values ('east'), ('west'), ('north')) v(q),
       pgq_node.register_location(q, q || '_hub', 'dbname=hub', false) r;
select n.ret_code
  from (values ('east'), ('west'), ('north')) v(q),
       pgq_node.create_node(q, 'leaf', q || '_hub', q || '_worker', q || '_src', 100, 'total') n;

-- the sources offer the table
select * from londiste.global_add_table('east', 'sales');
select * from londiste.global_add_table('west', 'sales');
-- subscribing one source needs a decision about the others (the caller
-- rolls back on codes of 400 and more)
begin;
select * from londiste.local_add_table('east', 'sales');
rollback;
-- merge_all subscribes every source, and the combined root too
select * from londiste.local_add_table('east', 'sales', array['merge_all']);
select queue_name, table_name, local, merge_state from londiste.table_info order by 1;
select tgname from pg_trigger where tgrelid = 'sales'::regclass and not tgisinternal order by 1;
-- a source subscribed already blocks a later separate subscription
select * from londiste.global_add_table('north', 'sales');
begin;
select * from londiste.local_add_table('north', 'sales');
rollback;
-- no_merge takes one source alone
select * from londiste.local_add_table('north', 'sales', array['no_merge']);

-- roles during a copy of both sources: the first queue leads (it drops
-- and re-creates the indexes), the other waits for it
select * from londiste.local_set_table_state('east', 'sales', null, 'in-copy');
select * from londiste.local_set_table_state('west', 'sales', null, 'in-copy');
select 'east' as q, table_name, merge_state, copy_role, copy_pos from londiste.get_table_list('east')
union all
select 'west', table_name, merge_state, copy_role, copy_pos from londiste.get_table_list('west');
-- once the lead has stored DDL, the other copies data only, after it
select * from londiste.local_set_table_struct('east', 'public.sales', 'create index sales_region on sales (region)');
select * from londiste._coordinate_copy('east', 'public.sales');
select * from londiste._coordinate_copy('west', 'public.sales');
select * from londiste.local_set_table_state('west', 'sales', null, 'catching-up');
select * from londiste._coordinate_copy('east', 'public.sales');
select * from londiste.local_set_table_state('east', 'sales', null, 'catching-up');
select * from londiste._coordinate_copy('east', 'public.sales');
select * from londiste.local_set_table_struct('east', 'public.sales', null);
select * from londiste._coordinate_copy('east', 'public.sales');
select * from londiste._coordinate_copy('west', 'public.sales');
-- unknown tables have no role and no position
select * from londiste._coordinate_copy('east', 'public.nosuch');

-- virtual tables: registered everywhere, no triggers, no copy
select * from londiste.global_add_table('east', 'virt');
select * from londiste.global_add_table('west', 'virt');
select * from londiste.local_add_table('east', 'virt', array['merge_all', 'virtual_table'], 'handler=vtable');
select queue_name, table_name, local, merge_state, table_attrs from londiste.table_info
 where table_name = 'public.virt' order by 1;

-- every combination of copy states in three sources, with at most one
-- holding dropped DDL (marked !): the role of each
select * from londiste.global_add_table('north', 'sales');
create table copy_states (state text);
insert into copy_states values ('in-copy'), ('!in-copy'), ('catching-up'), ('!catching-up');
create function copy_roles(s1 text, s2 text, s3 text,
                           out east text, out west text, out north text)
language plpgsql as $$
begin
    update londiste.table_info t
       set local = true, merge_state = replace(v.s, '!', ''),
           dropped_ddl = case when v.s like '!%' then 'create index x on y (z)' end
      from (values ('east', s1), ('west', s2), ('north', s3)) v(q, s)
     where t.queue_name = v.q and t.table_name = 'public.sales';
    select coalesce(copy_role, '-') into east
      from londiste.get_table_list('east') where table_name = 'public.sales';
    select coalesce(copy_role, '-') into west
      from londiste.get_table_list('west') where table_name = 'public.sales';
    select coalesce(copy_role, '-') into north
      from londiste.get_table_list('north') where table_name = 'public.sales';
end
$$;
select a.state as east_state, b.state as west_state, c.state as north_state, r.*
  from copy_states a, copy_states b, copy_states c,
       copy_roles(a.state, b.state, c.state) r
 where (a.state like '!%')::int + (b.state like '!%')::int + (c.state like '!%')::int < 2
 order by 1, 2, 3;
drop function copy_roles(text, text, text);
drop table copy_states;

-- a key is waived for a merged table whose lead copy dropped it
select * from londiste.local_remove_table('north', 'sales');
update londiste.table_info set local = false, merge_state = null, dropped_ddl = null
 where table_name = 'public.sales';
update londiste.table_info set local = true, merge_state = 'in-copy',
       dropped_ddl = 'alter table sales add primary key (id)'
 where table_name = 'public.sales' and queue_name = 'east';
alter table sales drop constraint sales_pkey;
select * from londiste.local_add_table('west', 'sales', array['no_merge']);
select * from londiste.local_add_table('total', 'sales');
-- removing the lead's table restores what its copy dropped (after the
-- other leaf's deny triggers are gone, which refuse the TRUNCATE)
select * from londiste.local_remove_table('west', 'sales');
select * from londiste.local_remove_table('east', 'sales');
select conname from pg_constraint where conrelid = 'sales'::regclass;

--
-- Which queue restores a pending foreign key between two tables
--
create table customer (id int primary key);
create table purchase (id int primary key, customer_id int references customer);
select * from londiste.drop_table_fkey('public.purchase', 'purchase_customer_id_fkey');
-- only local tables count; the combined root is the owner
select * from londiste.global_add_table('east', 'customer');
select * from londiste.global_add_table('east', 'purchase');
select * from londiste.global_add_table('west', 'customer');
select * from londiste.global_add_table('west', 'purchase');
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);
select * from londiste.local_add_table('east', 'customer', array['merge_all']);
select * from londiste.local_add_table('east', 'purchase', array['merge_all']);
-- not yet: the copies are not finished
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);
update londiste.table_info set merge_state = 'ok'
 where table_name in ('public.customer', 'public.purchase');
-- the first leaf queue whose combined queue is a root restores it
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);
-- a copy snapshot still in use holds it back
update londiste.table_info set custom_snapshot = '1:2:'
 where table_name = 'public.customer' and queue_name = 'west';
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);
update londiste.table_info set custom_snapshot = null;

-- with a combined branch instead, that branch's queue is the owner
select ret_code from pgq_node.drop_node('total', 'total_root');
select ret_code from pgq_node.register_location('total', 'total_up', 'dbname=up', false);
select ret_code from pgq_node.register_location('total', 'total_root', 'dbname=hub', false);
select ret_code from pgq_node.create_node('total', 'branch', 'total_root', 'total_worker', 'total_up', 100, null);
select * from londiste.global_add_table('total', 'customer');
select * from londiste.global_add_table('total', 'purchase');
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);
select * from londiste.local_add_table('total', 'customer', array['expect_sync']);
select * from londiste.local_add_table('total', 'purchase', array['expect_sync']);
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('total'), ('east'), ('west')) v(q);

-- leaves without a combined queue: the first queue owns it
select ret_code from pgq_node.drop_node('total', 'total_root');
select q, (select count(*) from londiste.get_valid_pending_fkeys(q)) as restores
  from (values ('east'), ('west'), ('north')) v(q);

select r.ret_code from (values ('east'), ('west'), ('north')) v(q),
       pgq_node.drop_node(q, q || '_hub') r;
drop table purchase, customer, sales;
drop extension londiste;
drop extension pgq_node;
-- the extension's roles are the cluster's; later tests expect none
drop role londiste_writer, londiste_reader;
