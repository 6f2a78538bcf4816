--
-- Trigger arguments, shown for the three functions side by side: SKIP,
-- ignore=, pkey=, backup, deny, when=, ev_*=, magic columns, TRUNCATE,
-- session_replication_role, argument errors, privileges and the call
-- through pgq.insert_event (pgq-triggers.md 1.2 - 1.8, 5).  Errors are
-- followed by their SQLSTATE and leave nothing queued.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
set timezone = 'UTC';
set datestyle = 'ISO, YMD';

select pgq.create_queue('targ_q') is not null as created;

create function pg_temp.drain(q text)
returns table (ev_type text, ev_data text, ev_extra1 text, ev_extra2 text,
               ev_extra3 text, ev_extra4 text)
language plpgsql as $$
begin
    return query execute format(
        'with d as (delete from %s returning *)'
        ' select ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4'
        ' from d order by ev_id',
        (select queue_data_pfx from pgq.queue where queue_name = q));
end
$$;

-- (Re)create one trigger per function on a table; they fire in name
-- order, so every row change shows jsontriga, logutriga, sqltriga.
create function pg_temp.triggers(tbl text, args text,
                                 timing text default 'after',
                                 events text default 'insert or update or delete')
returns void language plpgsql as $$
declare
    f text;
begin
    foreach f in array array['jsontriga', 'logutriga', 'sqltriga'] loop
        execute format('drop trigger if exists %I on %s', 't_' || f, tbl);
        execute format('create trigger %I %s %s on %s for each row'
                       ' execute function pgq.%s(%s)',
                       't_' || f, timing, events, tbl, f, args);
    end loop;
end
$$;

create schema targ;

--
-- ignore=: columns left out; an UPDATE of only those is no event, an
-- UPDATE that changed nothing is one
--
create table targ.ig (dat1 text primary key, dat2 text, col2 text);
select pg_temp.triggers('targ.ig', $$'targ_q', 'ignore=col2'$$);
insert into targ.ig values ('a', 'b', 'c');
update targ.ig set col2 = 'c2';                 -- only ignored: no events
update targ.ig set col2 = col2;                 -- nothing changed: events
update targ.ig set dat2 = 'b2', col2 = 'c3';    -- ignored column not shown
delete from targ.ig;
select * from pg_temp.drain('targ_q');

-- list entries are separated by commas and/or white space
select pg_temp.triggers('targ.ig', $$'targ_q', 'ignore=dat2, col2'$$);
insert into targ.ig values ('a', 'b', 'c');
update targ.ig set dat2 = 'x', col2 = 'y';      -- only ignored: no events
select * from pg_temp.drain('targ_q');
drop table targ.ig;

--
-- pkey=: replaces the table's key; its text is printed verbatim
--
create table targ.pk (nr int, col1 text, col2 text);
select pg_temp.triggers('targ.pk', $$'targ_q', 'pkey=nr,col1'$$);
insert into targ.pk values (1, 'col1', 'col2');
update targ.pk set col2 = 'col2x';
update targ.pk set col1 = 'other';
\echo SQLSTATE :SQLSTATE
delete from targ.pk;
select * from pg_temp.drain('targ_q');

select pg_temp.triggers('targ.pk', $$'targ_q', 'pkey=col1, nr'$$);
insert into targ.pk values (2, 'c', 'x');
update targ.pk set col2 = 'y';
select * from pg_temp.drain('targ_q');

-- pkey= overrides a real primary key
alter table targ.pk add primary key (nr);
update targ.pk set col2 = 'z';
select * from pg_temp.drain('targ_q');

-- a column that does not exist is an error; an empty list is no key
select pg_temp.triggers('targ.pk', $$'targ_q', 'pkey=nr,nosuch'$$);
insert into targ.pk values (3, 'c', 'x');
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.pk', $$'targ_q', 'pkey='$$);
insert into targ.pk values (3, 'c', 'x');
update targ.pk set col2 = 'q';
\echo SQLSTATE :SQLSTATE
select * from pg_temp.drain('targ_q');
drop table targ.pk;

-- pkey= names are matched as stored, without quotes; a name with a space
-- cannot be listed
create table targ."Mixed" ("Key Col" int, "Other" text);
select pg_temp.triggers('targ."Mixed"', $$'targ_q', 'pkey=Key Col'$$);
insert into targ."Mixed" values (1, 'a');
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ."Mixed"', $$'targ_q', 'pkey=Other'$$);
insert into targ."Mixed" values (1, 'a');
update targ."Mixed" set "Key Col" = 2;
delete from targ."Mixed";
select * from pg_temp.drain('targ_q');
drop table targ."Mixed";

--
-- backup: the old row of an UPDATE in ev_extra2 (urlencoded for logutriga
-- and sqltriga, JSON for jsontriga), ignored columns left out
--
create table targ.bk (id int primary key, v text, skipme text);
select pg_temp.triggers('targ.bk', $$'targ_q', 'backup', 'ignore=skipme'$$);
insert into targ.bk values (1, 'old & "new"', 's');
update targ.bk set v = null, skipme = 't';
delete from targ.bk;
select * from pg_temp.drain('targ_q');
drop table targ.bk;

--
-- deny: every change is refused with nothing queued
--
create table targ.dn (id int primary key, v text);
insert into targ.dn values (1, 'a');
select pg_temp.triggers('targ.dn', $$'targ_q', 'deny'$$);
create trigger t_trunc after truncate on targ.dn
    for each statement execute function pgq.logutriga('targ_q', 'deny');
insert into targ.dn values (2, 'b');
\echo SQLSTATE :SQLSTATE
update targ.dn set v = 'c';
\echo SQLSTATE :SQLSTATE
delete from targ.dn;
\echo SQLSTATE :SQLSTATE
truncate targ.dn;
\echo SQLSTATE :SQLSTATE
select * from targ.dn;
select * from pg_temp.drain('targ_q');
drop table targ.dn;

--
-- when=: queue only when true; column names are replaced by the row's
-- values (NEW, OLD for DELETE), everything else is left as written
--
create table targ.wh (id int primary key, col2 text, "Mixed" int);
select pg_temp.triggers('targ.wh', $$'targ_q', 'when=col2=''foo'''$$);
insert into targ.wh values (1, 'col2', 1), (2, 'foo', 2);
delete from targ.wh;
select * from pg_temp.drain('targ_q');

-- literals, dollar quotes, comments, qualified names and quoted names are
-- not touched; a bare name matches the stored column name exactly
select pg_temp.triggers('targ.wh',
    $$'targ_q', 'when=col2 <> ''col2'' and $x$id$x$ = ''id'' /* id */ and pg_catalog.lower(col2) = col2 -- col2
and Mixed > 0'$$, 'after', 'insert');
insert into targ.wh values (1, 'col2', 1), (2, 'abc', 1), (3, 'def', 0), (4, 'GHI', 5);
select * from pg_temp.drain('targ_q');
delete from targ.wh;

-- NULL, non-boolean and broken expressions are errors
select pg_temp.triggers('targ.wh', $$'targ_q', 'when=col2 = ''x'''$$, 'after', 'insert');
insert into targ.wh values (1, null, 1);
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.wh', $$'targ_q', 'when=id + 1'$$, 'after', 'insert');
insert into targ.wh values (1, 'a', 1);
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.wh', $$'targ_q', 'when=id = ) 1'$$, 'after', 'insert');
insert into targ.wh values (1, 'a', 1);
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.wh', $$'targ_q', 'when="Mixed" > 0 and mixed > 0'$$, 'after', 'insert');
insert into targ.wh values (1, 'a', 1);
\echo SQLSTATE :SQLSTATE
select count(*) as rows_kept from targ.wh;
select * from pg_temp.drain('targ_q');

--
-- ev_*= expressions replace event fields; NULL gives NULL
--
create table targ.ov (nr int primary key, col1 text, col2 text);
select pg_temp.triggers('targ.ov',
    $a$'targ_q', 'ev_extra1=(nr+3)::text', 'ev_type=$$badidea$$', 'ev_extra4=col2', 'ev_extra3=now() is not null'$a$);
insert into targ.ov values (1, 'col1', null);
update targ.ov set col2 = 'new';
select * from pg_temp.drain('targ_q');

select pg_temp.triggers('targ.ov',
    $$'targ_q', 'ev_data=col1 || ''!''', 'ev_extra2=nr * 2', 'backup'$$);
update targ.ov set col1 = 'x';
select * from pg_temp.drain('targ_q');

-- more than one row is an error
select pg_temp.triggers('targ.ov', $$'targ_q', 'ev_extra3=generate_series(1, 2)'$$);
update targ.ov set col1 = 'y';
\echo SQLSTATE :SQLSTATE
select col1 from targ.ov;
drop table targ.ov;

--
-- Magic columns: never in ev_data, their values set event fields; a
-- change of only a magic column is no event for sqltriga (and for the
-- others when ignore= is given); ev_*= wins over a magic column
--
create table targ.mg (id int primary key, v text, _pgq_ev_type text,
                      _pgq_ev_extra3 int);
select pg_temp.triggers('targ.mg', $$'targ_q'$$);
insert into targ.mg values (1, 'a', 'custom', 33);
update targ.mg set _pgq_ev_extra3 = 34;
update targ.mg set v = 'b';
delete from targ.mg;
select * from pg_temp.drain('targ_q');

alter table targ.mg add column _pgq_ev_data text;
select pg_temp.triggers('targ.mg', $$'targ_q', 'ignore=nosuch', 'ev_type=''expr'''$$);
insert into targ.mg values (1, 'a', 'custom', 33, 'data');
update targ.mg set _pgq_ev_extra3 = 34;     -- only magic: no events
update targ.mg set _pgq_ev_data = null, v = 'b';
select * from pg_temp.drain('targ_q');

alter table targ.mg add column _pgq_ev_bogus int;
update targ.mg set v = 'c';
\echo SQLSTATE :SQLSTATE
drop table targ.mg;

--
-- SKIP: a BEFORE trigger queues the event and suppresses the row change;
-- in an AFTER trigger it is an error; only the upper-case spelling exists
--
create table targ.sk (id int primary key, v text);
select pg_temp.triggers('targ.sk', $$'targ_q', 'SKIP'$$, 'before', 'insert');
insert into targ.sk values (1, 'a');
select count(*) as rows_written from targ.sk;
select * from pg_temp.drain('targ_q');
select pg_temp.triggers('targ.sk', $$'targ_q', 'SKIP'$$, 'after', 'insert');
insert into targ.sk values (1, 'a');
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.sk', $$'targ_q', 'skip'$$, 'before', 'insert');
insert into targ.sk values (1, 'a');
\echo SQLSTATE :SQLSTATE

-- other unknown arguments, including a table column name
select pg_temp.triggers('targ.sk', $$'targ_q', 'v=1'$$, 'before', 'insert');
insert into targ.sk values (1, 'a');
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.sk', $$'targ_q', 'Backup'$$, 'before', 'insert');
insert into targ.sk values (1, 'a');
\echo SQLSTATE :SQLSTATE
select pg_temp.triggers('targ.sk', $$'targ_q', 'ev_extra5=1'$$, 'before', 'insert');
insert into targ.sk values (1, 'a');
\echo SQLSTATE :SQLSTATE
select count(*) as rows_written from targ.sk;
select * from pg_temp.drain('targ_q');

--
-- TRUNCATE triggers accept only the queue name, SKIP and deny
--
create table targ.tr (id int primary key);
create trigger tr_skip before truncate on targ.tr
    for each statement execute function pgq.sqltriga('targ_q', 'SKIP');
truncate targ.tr;
select * from pg_temp.drain('targ_q');
drop trigger tr_skip on targ.tr;
create function pg_temp.truncate_with(args text) returns void
language plpgsql as $$
begin
    execute 'drop trigger if exists tr_args on targ.tr';
    execute format('create trigger tr_args after truncate on targ.tr'
                   ' for each statement execute function pgq.jsontriga(%s)', args);
    execute 'truncate targ.tr';
end
$$;
select pg_temp.truncate_with($$'targ_q', 'ignore=id'$$);
\echo SQLSTATE :SQLSTATE
select pg_temp.truncate_with($$'targ_q', 'pkey=id'$$);
\echo SQLSTATE :SQLSTATE
select pg_temp.truncate_with($$'targ_q', 'backup'$$);
\echo SQLSTATE :SQLSTATE
select pg_temp.truncate_with($$'targ_q', 'when=true'$$);
\echo SQLSTATE :SQLSTATE
select pg_temp.truncate_with($$'targ_q', 'ev_extra1=''x'''$$);
\echo SQLSTATE :SQLSTATE
select * from pg_temp.drain('targ_q');
drop table targ.tr;

--
-- session_replication_role
--
create table targ.rr (id int primary key, v text);
select pg_temp.triggers('targ.rr', $$'targ_q', 'SKIP', 'deny'$$, 'before');
-- local: the triggers do nothing and the row passes (no SKIP, no deny)
set session_replication_role = local;
insert into targ.rr values (1, 'a');
update targ.rr set v = 'b';
reset session_replication_role;
select * from targ.rr;
select * from pg_temp.drain('targ_q');
-- replica: ordinary triggers do not fire, ENABLE ALWAYS ones do
select pg_temp.triggers('targ.rr', $$'targ_q'$$);
set session_replication_role = replica;
insert into targ.rr values (2, 'a');
reset session_replication_role;
alter table targ.rr enable always trigger t_logutriga;
set session_replication_role = replica;
insert into targ.rr values (3, 'a');
reset session_replication_role;
select * from pg_temp.drain('targ_q');
drop table targ.rr;

--
-- Events go through pgq.insert_event: the queue's checks apply, and a
-- replacement function is called with the seven fields
--
create table targ.ie (id int primary key, v text);
select pg_temp.triggers('targ.ie', $$'targ_q'$$);
update pgq.queue set queue_disable_insert = true where queue_name = 'targ_q';
insert into targ.ie values (1, 'a');
\echo SQLSTATE :SQLSTATE
update pgq.queue set queue_disable_insert = false, queue_per_tx_limit = 2
 where queue_name = 'targ_q';
insert into targ.ie values (1, 'a');
\echo SQLSTATE :SQLSTATE
update pgq.queue set queue_per_tx_limit = null where queue_name = 'targ_q';
select count(*) as rows_kept from targ.ie;

-- a switch of the current event table is seen by the very next event,
-- also inside one transaction (the insert path remembers the queue row
-- only while the snapshot is the same)
begin;
insert into targ.ie values (10, 'table 0');
update pgq.queue set queue_cur_table = 1 where queue_name = 'targ_q';
insert into targ.ie values (11, 'table 1');
commit;
-- and between transactions, also after vacuum has cleaned up old versions
-- of the queue row
insert into targ.ie values (12, 'table 1');
update pgq.queue set queue_cur_table = 2 where queue_name = 'targ_q';
insert into targ.ie values (13, 'table 2');
vacuum pgq.queue;
update pgq.queue set queue_cur_table = 0 where queue_name = 'targ_q';
vacuum pgq.queue;
insert into targ.ie values (14, 'table 0');
do $$
begin
    execute format('create temp view targ_tables as select right(tableoid::regclass::text, 2) as tbl,'
                   ' ev_data from %s', (select queue_data_pfx from pgq.queue where queue_name = 'targ_q'));
end
$$;
select tbl, ev_data from targ_tables where ev_data like 'id=%' order by ev_data;
drop view targ_tables;
delete from targ.ie;
select count(*) > 0 as drained from pg_temp.drain('targ_q');

begin;
create or replace function pgq.insert_event(queue_name text, ev_type text, ev_data text,
    ev_extra1 text, ev_extra2 text, ev_extra3 text, ev_extra4 text)
returns bigint language plpgsql as $$
begin
    raise warning 'insert_event(%, %, %, %, %, %, %)', queue_name, ev_type, ev_data,
        ev_extra1, ev_extra2, ev_extra3, ev_extra4;
    return 0;
end
$$;
insert into targ.ie values (1, 'a');
rollback;
-- the installed function is back after the rollback
insert into targ.ie values (1, 'b');
select * from pg_temp.drain('targ_q');

--
-- Privileges: the trigger functions belong to pgq_writer; events are
-- queued with the rights of pgq.insert_event, so a writer needs no
-- privilege on the event tables, and a user without EXECUTE on
-- pgq.insert_event cannot change a table that has a pgq trigger
--
select has_function_privilege('pgq_writer', 'pgq.logutriga()', 'execute') as writer_logutriga,
       has_function_privilege('pgq_writer', 'pgq.sqltriga()', 'execute') as writer_sqltriga,
       has_function_privilege('pgq_writer', 'pgq.jsontriga()', 'execute') as writer_jsontriga,
       has_function_privilege('pgq_reader', 'pgq.logutriga()', 'execute') as reader_logutriga;
create role targ_writer in role pgq_writer;
create role targ_other;
grant usage on schema targ to targ_writer, targ_other;
grant all on targ.ie to targ_writer, targ_other;
set role targ_writer;
insert into targ.ie values (2, 'w');
reset role;
set role targ_other;
insert into targ.ie values (3, 'o');
\echo SQLSTATE :SQLSTATE
reset role;
select * from pg_temp.drain('targ_q');
drop table targ.ie;
drop owned by targ_writer, targ_other;
drop role targ_writer, targ_other;

drop schema targ cascade;
select pgq.drop_queue('targ_q');
