--
-- The per-backend table cache: every change of a table's definition, key
-- or triggers shows in the very next event of the same session (relcache
-- invalidation), also when the change is rolled back, and also when it
-- happens while a trigger on the same table is running.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select pgq.create_queue('tcache_q') is not null as created;

create function pg_temp.drain(q text)
returns table (ev_type text, ev_data text, ev_extra1 text, ev_extra2 text)
language plpgsql as $$
begin
    return query execute format(
        'with d as (delete from %s returning *)'
        ' select ev_type, ev_data, ev_extra1, ev_extra2 from d order by ev_id',
        (select queue_data_pfx from pgq.queue where queue_name = q));
end
$$;

create schema tcache;
create table tcache.t (id int primary key, a text);
create trigger t1_json after insert or update or delete on tcache.t
    for each row execute function pgq.jsontriga('tcache_q');
create trigger t2_log after insert or update or delete on tcache.t
    for each row execute function pgq.logutriga('tcache_q');
create trigger t3_sql after insert or update or delete on tcache.t
    for each row execute function pgq.sqltriga('tcache_q');

insert into tcache.t values (1, 'one');
alter table tcache.t add column b int;
insert into tcache.t values (2, 'two', 22);
alter table tcache.t rename column a to "A x";
insert into tcache.t values (3, 'three', 33);
alter table tcache.t drop column b;
insert into tcache.t values (4, 'four');
alter table tcache.t alter column "A x" type varchar(10);
alter table tcache.t add column c bool default true;
insert into tcache.t values (5, 'five');
select * from pg_temp.drain('tcache_q');

-- a different primary key
alter table tcache.t drop constraint t_pkey;
alter table tcache.t add primary key ("A x", id);
update tcache.t set c = false where id = 1;
-- no key at all
alter table tcache.t drop constraint t_pkey;
update tcache.t set c = true where id = 1;
\echo SQLSTATE :SQLSTATE
insert into tcache.t values (6, 'six');
alter table tcache.t add primary key (id);
update tcache.t set c = null where id = 6;
select * from pg_temp.drain('tcache_q');

-- renamed table and schema
alter table tcache.t rename to t2;
create schema tcache_other;
alter table tcache.t2 set schema tcache_other;
delete from tcache_other.t2 where id = 6;
alter table tcache_other.t2 set schema tcache;
alter table tcache.t2 rename to t;
select * from pg_temp.drain('tcache_q');

-- changed trigger arguments
create or replace trigger t2_log after insert or update or delete on tcache.t
    for each row execute function pgq.logutriga('tcache_q', 'ignore=c', 'backup');
drop trigger t1_json on tcache.t;
drop trigger t3_sql on tcache.t;
update tcache.t set "A x" = 'uno' where id = 1;
update tcache.t set c = not c where id = 1;         -- ignored: no event
select * from pg_temp.drain('tcache_q');

-- a rolled back ALTER leaves the old shape behind
begin;
alter table tcache.t add column tmp text default 'tmp';
insert into tcache.t values (7, 'seven');
rollback;
insert into tcache.t values (7, 'seven');
select * from pg_temp.drain('tcache_q');

-- invalidation while a trigger on the table runs: the when= expression
-- changes the table's privileges (a relcache invalidation) and inserts
-- into the same table, so the inner firing rebuilds the cache entry the
-- outer one is still using
create function tcache.nested(i int) returns bool
language plpgsql as $$
begin
    if i = 100 then
        execute 'grant select on tcache.t to public';
        insert into tcache.t values (101, 'inner');
        execute 'revoke select on tcache.t from public';
    end if;
    return true;
end
$$;
create or replace trigger t2_log after insert on tcache.t
    for each row execute function pgq.logutriga('tcache_q', 'when=tcache.nested(id)');
insert into tcache.t values (100, 'outer'), (102, 'after');
insert into tcache.t values (103, 'next');
select * from pg_temp.drain('tcache_q');

drop schema tcache, tcache_other cascade;
select pgq.drop_queue('tcache_q');
