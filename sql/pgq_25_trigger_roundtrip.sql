--
-- Round trip: a workload on a table with all three triggers, then the
-- events are applied to three empty copies of the table - sqltriga's SQL
-- fragments run as londiste runs them, logutriga's urlencoded rows and
-- jsontriga's JSON rows parsed back into column values - and each copy
-- must equal the source exactly (compared as row text).
--
\set SHOW_CONTEXT never
set client_min_messages = warning;
set timezone = 'Europe/Helsinki';

select pgq.create_queue('trt_q') is not null as created;

create schema trt;
create domain trt_code as text check (value <> '');
create type trt_pair as (a int, b text);
create table trt.src (
    id int primary key,
    t text, n numeric, f8 float8, i8 int8, b bool, d date, ts timestamp,
    tstz timestamptz, iv interval, ba bytea, arr text[], comp trt_pair,
    j json, jb jsonb, dom trt_code, "Mixed Case" text, gone int,
    gen int generated always as (id * 2) stored);
alter table trt.src drop column gone;
create table trt.copy_sql (like trt.src including all);
create table trt.copy_log (like trt.src including all);
create table trt.copy_json (like trt.src including all);

create trigger a_sql after insert or update or delete on trt.src
    for each row execute function pgq.sqltriga('trt_q');
create trigger b_log after insert or update or delete on trt.src
    for each row execute function pgq.logutriga('trt_q');
create trigger c_json after insert or update or delete on trt.src
    for each row execute function pgq.jsontriga('trt_q');

-- the workload
insert into trt.src (id) values (1);
insert into trt.src values (2, '', 0, 0, 0, false, '2024-02-29', '2024-02-29 23:59:59.5',
    '2024-02-29 23:59:59.123456+02', '0', '', '{}', '(,)', '{}', '{}', 'x', '');
insert into trt.src values (3,
    E'it''s "q" \\ back\\slash\ttab\nnewline\r', -1.50, -1.5e-300, -9223372036854775808,
    true, '0044-03-15 BC', 'infinity', '-infinity', '-1 year 2 days 03:04:05.5',
    E'\\x00ff275c', E'{"a b","c,d",NULL,"\\"q\\"",""}', '(1,"x ""y"" \\ z")',
    E'{"k": [1, "v\\n"], "e": "é"}', '{"k": [1, "v"], "n": null}', 'dom',
    'é ü 日本 € &=+%?#/;:@');
insert into trt.src (id, t, f8, tstz) values (4, 'a', 'NaN', '1970-01-01 00:00:00.25+00');
insert into trt.src (id, f8, n, tstz) values (5, '-Infinity', 'NaN', '2024-10-27 03:30:00+03');
update trt.src set t = 'changed', n = 2.5 where id = 1;
update trt.src set t = null, b = null, arr = '{x}' where id = 3;
update trt.src set t = t where id = 2;                       -- no change
update trt.src set "Mixed Case" = E'new\\' where id in (1, 2);
delete from trt.src where id = 4;
insert into trt.src (id, t) values (4, 'back again');
update trt.src set jb = '{"z": 1}', j = '[]', comp = null where id = 5;
delete from trt.src where id = 2;

-- Move the queue's events into trt_events (emptied first)
create temp table trt_events as select * from pgq.event_template where false;
create function pg_temp.take_events() returns bigint
language plpgsql as $$
declare
    n bigint;
begin
    truncate trt_events;
    execute format('with d as (delete from %s returning *)'
                   ' insert into trt_events select * from d',
                   (select queue_data_pfx from pgq.queue where queue_name = 'trt_q'));
    get diagnostics n = row_count;
    return n;
end
$$;

-- sqltriga: the statements londiste builds from the fragments
create function pg_temp.apply_sql(tbl text, ev_type text, ev_data text)
returns void language plpgsql as $$
begin
    case ev_type
        when 'I' then execute format('insert into %s %s', tbl, ev_data);
        when 'U' then execute format('update only %s set %s', tbl, ev_data);
        when 'D' then execute format('delete from only %s where %s', tbl, ev_data);
    end case;
end
$$;

-- Apply a row given as a jsonb object of column name -> text value:
-- insert, or replace (update) / remove (delete) the row with its key
create function pg_temp.apply_row(tbl text, op text, keys text[], vals jsonb)
returns void language plpgsql as $$
declare
    cols text;
    exprs text;
    cond text;
begin
    select string_agg(quote_ident(a.attname), ','),
           string_agg(format('%L::%s', vals ->> a.attname,
                             format_type(a.atttypid, a.atttypmod)), ',')
      into cols, exprs
      from pg_attribute a
     where a.attrelid = tbl::regclass and a.attnum > 0 and not a.attisdropped
       and a.attgenerated = '' and vals ? a.attname;
    select string_agg(format('%I = %L', k, vals ->> k), ' and ') into cond
      from unnest(keys) k;
    if op in ('U', 'D') then
        execute format('delete from %s where %s', tbl, cond);
    end if;
    if op in ('I', 'U') then
        execute format('insert into %s (%s) values (%s)', tbl, cols, exprs);
    end if;
end
$$;

-- logutriga: split at "&" and the first "=", decode %xx and "+"
create function pg_temp.urldecode(s text) returns text
language sql immutable as $$
    select convert_from(coalesce(string_agg(
               case when m[1] is not null then decode(m[1], 'hex')
                    else convert_to(replace(m[2], '+', ' '), 'UTF8') end,
               ''::bytea order by nr), ''), 'UTF8')
      from regexp_matches(s, '%([0-9a-f]{2})|([^%]+)', 'g') with ordinality as x(m, nr)
$$;
create function pg_temp.urldecode_row(s text) returns jsonb
language sql immutable as $$
    select coalesce(jsonb_object_agg(
               pg_temp.urldecode(split_part(pair, '=', 1)),
               case when strpos(pair, '=') > 0
                    then pg_temp.urldecode(substr(pair, strpos(pair, '=') + 1)) end), '{}')
      from unnest(string_to_array(s, '&')) as pair
$$;

-- Apply the taken events to the three copies, each in event order.
-- jsontriga: ->> gives each value's text (true/false and numbers as
-- written, which their types read back).
create function pg_temp.apply_events() returns void
language plpgsql as $$
begin
    perform pg_temp.apply_sql('trt.copy_sql', ev_type, ev_data)
       from trt_events where ev_type in ('I', 'U', 'D') order by ev_id;
    perform pg_temp.apply_row('trt.copy_log', left(ev_type, 1),
                              string_to_array(substr(ev_type, 3), ','),
                              pg_temp.urldecode_row(ev_data))
       from trt_events where ev_type ~ '^[IUD]:' order by ev_id;
    perform pg_temp.apply_row('trt.copy_json', left(ev_type::json ->> 'op', 1),
                              array(select json_array_elements_text(ev_type::json -> 'pkey')),
                              (select jsonb_object_agg(key, value)
                                 from json_each_text(ev_data::json)))
       from trt_events where ev_type like '{%' order by ev_id;
end
$$;

-- Rows that differ between the source and a copy, compared as text
create function pg_temp.differences(tbl text) returns bigint
language plpgsql as $$
declare
    n bigint;
begin
    execute format('select count(*) from ((select s::text from trt.src s except all'
                   ' select c::text from %1$s c) union all (select c::text from %1$s c'
                   ' except all select s::text from trt.src s)) d', tbl) into n;
    return n;
end
$$;

select pg_temp.take_events() as events;
select count(*) filter (where ev_type in ('I', 'U', 'D')) as sqltriga,
       count(*) filter (where ev_type ~ '^[IUD]:') as logutriga,
       count(*) filter (where ev_type like '{%') as jsontriga
  from trt_events;
select pg_temp.apply_events();
select (select count(*) from trt.src) as source_rows,
       pg_temp.differences('trt.copy_sql') as sqltriga_diff,
       pg_temp.differences('trt.copy_log') as logutriga_diff,
       pg_temp.differences('trt.copy_json') as jsontriga_diff;

-- Other unambiguous output settings on the producing side read back the
-- same.  (Ambiguous ones do not: values are the producer's text output,
-- and a date written as 03-02-2001 under DateStyle DMY is read as March 2
-- by a receiver using MDY.)
set datestyle = 'Postgres, DMY';
set intervalstyle = 'postgres_verbose';
set bytea_output = 'escape';
update trt.src set ts = '2001-02-03 04:05:06.7', iv = '-3 days 4 hours', ba = E'\\x00ff5c27',
                   tstz = '2001-02-03 04:05:06.7+05' where id = 1;
reset datestyle;
reset intervalstyle;
reset bytea_output;
select pg_temp.take_events() as events;
select pg_temp.apply_events();
select pg_temp.differences('trt.copy_sql') as sqltriga_diff,
       pg_temp.differences('trt.copy_log') as logutriga_diff,
       pg_temp.differences('trt.copy_json') as jsontriga_diff;

drop schema trt cascade;
drop type trt_pair;
drop domain trt_code;
select pgq.drop_queue('trt_q');
