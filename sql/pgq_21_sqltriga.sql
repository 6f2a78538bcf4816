--
-- pgq.sqltriga: row changes as SQL fragments (pgq-triggers.md sections 1
-- and 3).  Every payload is shown exactly; ids, txids and times are left
-- out.  Errors are followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
set timezone = 'UTC';
set datestyle = 'ISO, YMD';

select pgq.create_queue('tsql_q') is not null as created;

-- Take (and delete) the queue's events in insertion order
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

--
-- The contract's example table: insert, update, delete, truncate; NULL
-- is "null" in INSERT and "NULL" in UPDATE, backslashes give E'' literals
--
create schema tsql;
create table tsql.item (id int primary key, title text, price numeric, note text);
create trigger item_log after insert or update or delete on tsql.item
    for each row execute function pgq.sqltriga('tsql_q');
create trigger item_trunc after truncate on tsql.item
    for each statement execute function pgq.sqltriga('tsql_q');

insert into tsql.item values (7, 'A&B shop', 2.50, null);
insert into tsql.item values (8, '', 0, 'é {1,2} a=b');
update tsql.item set note = 'x y' where id = 7;
update tsql.item set note = E'x\\y', price = price where id = 7;
update tsql.item set note = null, title = 'it''s' where id = 7;
update tsql.item set note = note where id = 8;      -- no change: key fallback form
delete from tsql.item where id = 8;
truncate tsql.item;
select * from pg_temp.drain('tsql_q');

--
-- Every type class: NULLs, empty strings, quotes, backslashes, control
-- characters, multibyte text, arrays, composites, json/jsonb, bytea,
-- numeric, floats, date/time with time zones, booleans, domains, uuid;
-- generated columns and dropped columns are left out.
--
create domain tsql_posint as int check (value > 0);
create type tsql_pair as (a int, b text);
create table tsql.types (
    id int primary key,
    t text, c char(3), n numeric, f4 real, f8 float8, i2 int2, i8 int8,
    b bool, d date, ts timestamp, tstz timestamptz, iv interval,
    ba bytea, arr text[], iarr int[], comp tsql_pair, j json, jb jsonb,
    dom tsql_posint, u uuid, gone text,
    gen int generated always as (id * 10) stored);
alter table tsql.types drop column gone;
create trigger types_log after insert on tsql.types
    for each row execute function pgq.sqltriga('tsql_q');

insert into tsql.types (id) values (1);
insert into tsql.types values (2, '', '', 0, 0, 0, 0, 0, false, '2024-02-29',
    '2024-02-29 23:59:59.5', '2024-02-29 23:59:59.123456+02', '0');
insert into tsql.types values (3,
    E'it''s "q" \\ back\\slash\ttab\nnewline', 'a b', -1.50, 1.5, 0.1, -32768,
    9223372036854775807, true, '0044-03-15 BC', 'infinity', '-infinity',
    '1 year 2 days 03:04:05', E'\\x00ff27', E'{"a b","c,d",NULL,"\\"q\\""}',
    '{1,2,3}', '(1,"x y")', '{"k": [1, "v"]}', '{"k": [1, "v"]}', 42,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
insert into tsql.types (id, t, arr) values (4, 'é ü 日本 €', '{é,日本}');
insert into tsql.types (id, t) values (5, '&=+%?#/;:@ ~*''()!$,');
select * from pg_temp.drain('tsql_q');

-- standard_conforming_strings does not change the literals
set standard_conforming_strings = off;
insert into tsql.item values (9, E'a\\b''c', null, null);
reset standard_conforming_strings;
select * from pg_temp.drain('tsql_q');

-- values follow the session's output settings
set datestyle = 'SQL, DMY';
set timezone = 'America/New_York';
set bytea_output = 'escape';
insert into tsql.types (id, d, tstz, ba, f8) values (6, '2024-02-29',
    '2024-07-01 12:00:00+00', E'\\x41ff', 1e100);
reset bytea_output;
set datestyle = 'ISO, YMD';
set timezone = 'UTC';
select * from pg_temp.drain('tsql_q');

--
-- Identifiers that need quoting (mixed case, spaces, quotes, keywords,
-- non-ASCII) are quoted like quote_ident(); ev_extra1 stays raw
--
create schema "Weird Sch";
create table "Weird Sch"."Tbl ""x""" ("Id" int primary key, "col A" text,
    "select" int, "ÄÖ" text);
create trigger weird_log after insert or update or delete on "Weird Sch"."Tbl ""x"""
    for each row execute function pgq.sqltriga('tsql_q');
insert into "Weird Sch"."Tbl ""x""" values (1, 'v', 2, 'w');
update "Weird Sch"."Tbl ""x""" set "col A" = 'v2';
delete from "Weird Sch"."Tbl ""x""";
select * from pg_temp.drain('tsql_q');

--
-- Key columns in table order in WHERE and DELETE conditions; no key:
-- INSERT works, UPDATE and DELETE are refused
--
create table tsql.multi (a int, b text, c int, primary key (c, a));
create trigger multi_log after insert or update or delete on tsql.multi
    for each row execute function pgq.sqltriga('tsql_q');
insert into tsql.multi values (1, 'x', 2);
update tsql.multi set b = 'y';
delete from tsql.multi;
select * from pg_temp.drain('tsql_q');

create table tsql.nokey (a int, b text);
create trigger nokey_log after insert or update or delete on tsql.nokey
    for each row execute function pgq.sqltriga('tsql_q');
insert into tsql.nokey values (1, 'x');
update tsql.nokey set b = 'y';
\echo SQLSTATE :SQLSTATE
delete from tsql.nokey;
\echo SQLSTATE :SQLSTATE
select * from pg_temp.drain('tsql_q');

-- changing the key is refused, and nothing of the statement is queued
insert into tsql.item values (1, 'one', 1, null), (2, 'two', 2, null);
select count(*) as queued from pg_temp.drain('tsql_q');
update tsql.item set id = id + 10;
\echo SQLSTATE :SQLSTATE
select count(*) as queued from pg_temp.drain('tsql_q');
select id from tsql.item order by id;

--
-- BEFORE triggers: the row is written, and the event is the same
--
create table tsql.before (id int primary key, v text);
create trigger before_log before insert or update or delete on tsql.before
    for each row execute function pgq.sqltriga('tsql_q');
create trigger before_trunc before truncate on tsql.before
    for each statement execute function pgq.sqltriga('tsql_q');
insert into tsql.before values (1, 'a') returning *;
update tsql.before set v = 'b' returning *;
delete from tsql.before returning *;
truncate tsql.before;
select * from pg_temp.drain('tsql_q');

--
-- Wrong use
--
select pgq.sqltriga();
\echo SQLSTATE :SQLSTATE
create table tsql.stmt (id int primary key);
create trigger stmt_log after insert on tsql.stmt
    for each statement execute function pgq.sqltriga('tsql_q');
insert into tsql.stmt values (1);
\echo SQLSTATE :SQLSTATE
drop trigger stmt_log on tsql.stmt;
create trigger noqueue_log after insert on tsql.stmt
    for each row execute function pgq.sqltriga();
insert into tsql.stmt values (1);
\echo SQLSTATE :SQLSTATE
drop trigger noqueue_log on tsql.stmt;
create trigger badqueue_log after insert on tsql.stmt
    for each row execute function pgq.sqltriga('tsql_nosuch');
insert into tsql.stmt values (1);
\echo SQLSTATE :SQLSTATE
select count(*) as rows_kept from tsql.stmt;
select * from pg_temp.drain('tsql_q');

drop schema tsql, "Weird Sch" cascade;
drop type tsql_pair;
drop domain tsql_posint;
select pgq.drop_queue('tsql_q');
