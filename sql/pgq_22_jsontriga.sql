--
-- pgq.jsontriga: rows as JSON (pgq-triggers.md sections 1 and 4).  Every
-- payload is shown exactly; ids, txids and times are left out.  Errors are
-- followed by their SQLSTATE.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
set timezone = 'UTC';
set datestyle = 'ISO, YMD';

select pgq.create_queue('tjson_q') is not null as created;

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
-- The contract's example table: insert, update, delete, truncate
--
create schema tjson;
create table tjson.item (id int primary key, title text, price numeric, note text);
create trigger item_log after insert or update or delete on tjson.item
    for each row execute function pgq.jsontriga('tjson_q');
create trigger item_trunc after truncate on tjson.item
    for each statement execute function pgq.jsontriga('tjson_q');

insert into tjson.item values (7, 'A&B shop', 2.50, null);
insert into tjson.item values (8, '', 0, 'é {1,2} a=b');
update tjson.item set note = 'x y' where id = 7;
update tjson.item set note = note where id = 8;      -- no change: still an event
delete from tjson.item where id = 8;
truncate tjson.item;
select * from pg_temp.drain('tjson_q');

--
-- Every type class: NULLs, empty strings, quotes, backslashes, control
-- characters, multibyte text, arrays, composites, json/jsonb, bytea,
-- numeric, floats, date/time with time zones, booleans, domains, uuid;
-- generated columns and dropped columns are left out.
--
create domain tjson_posint as int check (value > 0);
create type tjson_pair as (a int, b text);
create table tjson.types (
    id int primary key,
    t text, c char(3), n numeric, f4 real, f8 float8, i2 int2, i8 int8,
    b bool, d date, ts timestamp, tstz timestamptz, iv interval,
    ba bytea, arr text[], iarr int[], comp tjson_pair, j json, jb jsonb,
    dom tjson_posint, u uuid, gone text,
    gen int generated always as (id * 10) stored);
alter table tjson.types drop column gone;
create trigger types_log after insert on tjson.types
    for each row execute function pgq.jsontriga('tjson_q');

insert into tjson.types (id) values (1);
insert into tjson.types values (2, '', '', 0, 0, 0, 0, 0, false, '2024-02-29',
    '2024-02-29 23:59:59.5', '2024-02-29 23:59:59.123456+02', '0');
insert into tjson.types values (3,
    E'it''s "q" \\ back\\slash\ttab\nnewline', 'a b', -1.50, 1.5, 0.1, -32768,
    9223372036854775807, true, '0044-03-15 BC', 'infinity', '-infinity',
    '1 year 2 days 03:04:05', E'\\x00ff27', E'{"a b","c,d",NULL,"\\"q\\""}',
    '{1,2,3}', '(1,"x y")', '{"k": [1, "v"]}', '{"k": [1, "v"]}', 42,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
insert into tjson.types (id, t, arr) values (4, 'é ü 日本 €', '{é,日本}');
insert into tjson.types (id, t) values (5, '&=+%?#/;:@ ~*''()!$,');
select * from pg_temp.drain('tjson_q');

-- The contract's example, and time zones whose offset has seconds
create schema app;
create table app.t (id int primary key, ok bool, amount numeric, at timestamptz, tags text[]);
create trigger t_json after insert on app.t
    for each row execute function pgq.jsontriga('tjson_q');
create trigger t_json_trunc after truncate on app.t
    for each statement execute function pgq.jsontriga('tjson_q');
insert into app.t values (3, true, 1.50, '2024-05-06 07:08:09+00', '{a,b}');
set timezone = 'Africa/Monrovia';
insert into app.t values (4, false, -0.0, '1970-01-01 12:00:00.25+00', '{}');
set timezone = 'Asia/Kolkata';
insert into app.t values (5, null, 1e-20, '2024-05-06 07:08:09+00', null);
set timezone = 'UTC';
truncate app.t;
select * from pg_temp.drain('tjson_q');
drop schema app cascade;

-- dates and timestamps are ISO whatever DateStyle says; other values
-- follow the session's output settings
set datestyle = 'SQL, DMY';
set timezone = 'America/New_York';
set bytea_output = 'escape';
insert into tjson.types (id, d, tstz, ba, f8) values (6, '2024-02-29',
    '2024-07-01 12:00:00+00', E'\\x41ff', 1e100);
reset bytea_output;
set datestyle = 'ISO, YMD';
set timezone = 'UTC';
select * from pg_temp.drain('tjson_q');

--
-- Identifiers that need quoting: plain JSON strings in ev_type and
-- ev_data, raw in ev_extra1
--
create schema "Weird Sch";
create table "Weird Sch"."Tbl ""x""" ("Id" int primary key, "col A" text,
    "select" int, "ÄÖ" text);
create trigger weird_log after insert or update or delete on "Weird Sch"."Tbl ""x"""
    for each row execute function pgq.jsontriga('tjson_q');
insert into "Weird Sch"."Tbl ""x""" values (1, 'v', 2, 'w');
update "Weird Sch"."Tbl ""x""" set "col A" = 'v2';
delete from "Weird Sch"."Tbl ""x""";
select * from pg_temp.drain('tjson_q');

--
-- Key list: primary key columns in index order, not table order; no key
-- gives "pkey":[] and refuses UPDATE and DELETE
--
create table tjson.multi (a int, b text, c int, primary key (c, a));
create trigger multi_log after insert or update or delete on tjson.multi
    for each row execute function pgq.jsontriga('tjson_q');
insert into tjson.multi values (1, 'x', 2);
update tjson.multi set b = 'y';
delete from tjson.multi;
select * from pg_temp.drain('tjson_q');

create table tjson.nokey (a int, b text);
create trigger nokey_log after insert or update or delete on tjson.nokey
    for each row execute function pgq.jsontriga('tjson_q');
insert into tjson.nokey values (1, 'x');
update tjson.nokey set b = 'y';
\echo SQLSTATE :SQLSTATE
delete from tjson.nokey;
\echo SQLSTATE :SQLSTATE
select * from pg_temp.drain('tjson_q');

-- changing the key is refused, and nothing of the statement is queued
insert into tjson.item values (1, 'one', 1, null), (2, 'two', 2, null);
select count(*) as queued from pg_temp.drain('tjson_q');
update tjson.item set id = id + 10;
\echo SQLSTATE :SQLSTATE
select count(*) as queued from pg_temp.drain('tjson_q');
select id from tjson.item order by id;

--
-- BEFORE triggers: the row is written, and the event is the same
--
create table tjson.before (id int primary key, v text);
create trigger before_log before insert or update or delete on tjson.before
    for each row execute function pgq.jsontriga('tjson_q');
create trigger before_trunc before truncate on tjson.before
    for each statement execute function pgq.jsontriga('tjson_q');
insert into tjson.before values (1, 'a') returning *;
update tjson.before set v = 'b' returning *;
delete from tjson.before returning *;
truncate tjson.before;
select * from pg_temp.drain('tjson_q');

--
-- Wrong use
--
select pgq.jsontriga();
\echo SQLSTATE :SQLSTATE
create table tjson.stmt (id int primary key);
create trigger stmt_log after insert on tjson.stmt
    for each statement execute function pgq.jsontriga('tjson_q');
insert into tjson.stmt values (1);
\echo SQLSTATE :SQLSTATE
drop trigger stmt_log on tjson.stmt;
create trigger noqueue_log after insert on tjson.stmt
    for each row execute function pgq.jsontriga();
insert into tjson.stmt values (1);
\echo SQLSTATE :SQLSTATE
drop trigger noqueue_log on tjson.stmt;
create trigger badqueue_log after insert on tjson.stmt
    for each row execute function pgq.jsontriga('tjson_nosuch');
insert into tjson.stmt values (1);
\echo SQLSTATE :SQLSTATE
select count(*) as rows_kept from tjson.stmt;
select * from pg_temp.drain('tjson_q');

drop schema tjson, "Weird Sch" cascade;
drop type tjson_pair;
drop domain tjson_posint;
select pgq.drop_queue('tjson_q');
