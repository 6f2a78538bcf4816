--
-- Ticking: the decision of pgq.ticker(queue) (pgq-api.md 4.8), the
-- all-queues form, external ticks, paused and external-ticker queues,
-- force_tick and the state sanity checks (6.7).  Errors are followed by
-- their SQLSTATE.
--
-- Tick times are moved with UPDATE instead of waiting, so every decision
-- below has a margin of seconds to minutes.
--
\set SHOW_CONTEXT never
set client_min_messages = warning;

select pgq.create_queue('qtick_a');
select queue_id as qa_id, queue_event_seq as qa_evseq, queue_tick_seq as qa_tickseq
  from pgq.queue where queue_name = 'qtick_a' \gset
-- never tick for time reasons unless a test asks for it
select pgq.set_queue_config('qtick_a', 'ticker_max_count', '3');
select pgq.set_queue_config('qtick_a', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('qtick_a', 'ticker_idle_period', '1 hour');

-- created with tick 1; with no earlier tick to measure a gap against, an
-- idle queue ticks (4.8)
select tick_id, tick_event_seq from pgq.tick where tick_queue = :qa_id order by tick_id;
select pgq.ticker('qtick_a');

-- new events below ticker_max_count and younger than ticker_max_lag: no tick
select pgq.insert_event('qtick_a', 'e', '1');
select pgq.insert_event('qtick_a', 'e', '2');
select pgq.ticker('qtick_a');
select last_tick_id, ev_new from pgq.get_queue_info('qtick_a');
-- ticker_max_count reached: tick, recording the number of issued ids
select pgq.insert_event('qtick_a', 'e', '3');
select pgq.ticker('qtick_a');
select pgq.ticker('qtick_a');
select tick_id, tick_event_seq from pgq.tick where tick_queue = :qa_id order by tick_id;

-- one new event: no tick while the last tick is younger than
-- ticker_max_lag, a tick once it is older
select pgq.insert_event('qtick_a', 'e', '4');
select pgq.ticker('qtick_a');
update pgq.tick set tick_time = now() - interval '2 hours'
 where tick_queue = :qa_id and tick_id = 3;
select pgq.ticker('qtick_a');
select tick_id, tick_event_seq from pgq.tick where tick_queue = :qa_id order by tick_id;

--
-- Idle queue: no tick while lag < max_lag / 2, or while lag < 2 * gap and
-- lag < idle_period (gap = distance of the last two ticks)
--
select pgq.set_queue_config('qtick_a', 'ticker_max_lag', '20 seconds');
select pgq.set_queue_config('qtick_a', 'ticker_idle_period', '1 hour');
-- lag 5 s < max_lag / 2
update pgq.tick set tick_time = now() - interval '1 hour'
 where tick_queue = :qa_id and tick_id = 3;
update pgq.tick set tick_time = now() - interval '5 seconds'
 where tick_queue = :qa_id and tick_id = 4;
select pgq.ticker('qtick_a');
-- lag 1 min, gap 2 min: lag < 2 * gap and lag < idle_period
update pgq.tick set tick_time = now() - interval '3 minutes'
 where tick_queue = :qa_id and tick_id = 3;
update pgq.tick set tick_time = now() - interval '1 minute'
 where tick_queue = :qa_id and tick_id = 4;
select pgq.ticker('qtick_a');
-- the same lag, but beyond ticker_idle_period: tick
select pgq.set_queue_config('qtick_a', 'ticker_idle_period', '30 seconds');
select pgq.ticker('qtick_a');
-- lag 100 s, gap 20 s: lag >= 2 * gap
select pgq.set_queue_config('qtick_a', 'ticker_idle_period', '1 hour');
update pgq.tick set tick_time = now() - interval '2 minutes'
 where tick_queue = :qa_id and tick_id = 4;
update pgq.tick set tick_time = now() - interval '100 seconds'
 where tick_queue = :qa_id and tick_id = 5;
select pgq.ticker('qtick_a');
-- lag 30 s, gap 70 s: lag < 2 * gap, no tick
update pgq.tick set tick_time = now() - interval '30 seconds'
 where tick_queue = :qa_id and tick_id = 6;
select pgq.ticker('qtick_a');
-- idle ticks repeat the event sequence value
select tick_id, tick_event_seq from pgq.tick where tick_queue = :qa_id order by tick_id;

--
-- Paused queues: ticker(name) refuses, ticker() skips, force_tick does nothing
--
select pgq.set_queue_config('qtick_a', 'ticker_max_lag', '0');
select pgq.set_queue_config('qtick_a', 'ticker_idle_period', '0');
select pgq.set_queue_config('qtick_a', 'ticker_paused', 'true');
select pgq.ticker('qtick_a');
\echo SQLSTATE :SQLSTATE
select pgq.ticker() as queues_ticked;
select pgq.seq_getval(:'qa_evseq') as event_seq;
select pgq.force_tick('qtick_a');
select pgq.seq_getval(:'qa_evseq') as event_seq;
select pgq.set_queue_config('qtick_a', 'ticker_paused', 'false');
-- max_lag 0 and idle_period 0: every call ticks
select pgq.ticker('qtick_a');
select pgq.ticker('qtick_a');

--
-- Queues with an external tick source: the local forms refuse or skip them
--
select pgq.set_queue_config('qtick_a', 'external_ticker', 'true');
select pgq.ticker('qtick_a');
\echo SQLSTATE :SQLSTATE
select pgq.ticker() as queues_ticked;
select pgq.force_tick('qtick_a');
select pgq.seq_getval(:'qa_evseq') as event_seq;
select pgq.set_queue_config('qtick_a', 'external_ticker', 'false');

--
-- ticker(name, id, time, seq): external ticks keep the given values and
-- move both sequences forward, never back
--
select pgq.create_queue('qtick_ext');
select queue_id as qe_id, queue_event_seq as qe_evseq, queue_tick_seq as qe_tickseq
  from pgq.queue where queue_name = 'qtick_ext' \gset
select pgq.ticker('qtick_ext', 5, '2020-01-01 00:00:00+00', 100);
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qtick_ext', 'external_ticker', 'true');
select pgq.ticker('qtick_ext', 5, '2020-01-01 00:00:00+00', 100);
select tick_id, tick_time = '2020-01-01 00:00:00+00' as given_time, tick_event_seq,
       tick_snapshot is not null as has_snapshot
  from pgq.tick where tick_queue = :qe_id order by tick_id;
select pgq.seq_getval(:'qe_tickseq') as tick_seq, pgq.seq_getval(:'qe_evseq') as event_seq;
-- lower values are recorded as given, the sequences stay
select pgq.ticker('qtick_ext', 3, '2019-12-31 00:00:00+00', 50);
select pgq.seq_getval(:'qe_tickseq') as tick_seq, pgq.seq_getval(:'qe_evseq') as event_seq;
-- the next local event id follows the copied position
select pgq.insert_event('qtick_ext', 'e', 'after external tick');
-- duplicate tick id (terse: the detail names the queue id)
\set VERBOSITY terse
select pgq.ticker('qtick_ext', 5, '2020-01-01 00:00:00+00', 100);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
-- the local forms refuse the queue
select pgq.ticker('qtick_ext');
\echo SQLSTATE :SQLSTATE
-- a paused external queue takes no ticks at all
select pgq.set_queue_config('qtick_ext', 'ticker_paused', 'true');
select pgq.ticker('qtick_ext', 6, '2020-01-01 00:00:01+00', 101);
\echo SQLSTATE :SQLSTATE
select pgq.set_queue_config('qtick_ext', 'ticker_paused', 'false');
select pgq.ticker('qtick_nosuch', 6, '2020-01-01 00:00:01+00', 101);
\echo SQLSTATE :SQLSTATE
select pgq.ticker(null, 6, '2020-01-01 00:00:01+00', 101);
\echo SQLSTATE :SQLSTATE
select pgq.ticker('qtick_ext', null, '2020-01-01 00:00:01+00', 101);
\echo SQLSTATE :SQLSTATE
select pgq.ticker('qtick_ext', 6, null, 101);
\echo SQLSTATE :SQLSTATE
select pgq.ticker('qtick_ext', 6, '2020-01-01 00:00:01+00', null);
\echo SQLSTATE :SQLSTATE
select tick_id, tick_event_seq from pgq.tick where tick_queue = :qe_id order by tick_id;

--
-- ticker(): one call per queue that is neither paused nor external,
-- returning how many ticked
--
select pgq.create_queue('qtick_b');
select pgq.set_queue_config('qtick_b', 'ticker_max_count', '2');
select pgq.set_queue_config('qtick_b', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('qtick_b', 'ticker_idle_period', '1 hour');
select pgq.create_queue('qtick_p');
select pgq.set_queue_config('qtick_p', 'ticker_max_lag', '0');
select pgq.set_queue_config('qtick_p', 'ticker_idle_period', '0');
select pgq.set_queue_config('qtick_p', 'ticker_paused', 'true');
-- qtick_a always ticks, qtick_b is idle, qtick_ext and qtick_p are skipped
select pgq.ticker() as queues_ticked;
select pgq.insert_event('qtick_b', 'e', '1');
select pgq.insert_event('qtick_b', 'e', '2');
select pgq.ticker() as queues_ticked;
select queue_name, last_tick_id from pgq.get_queue_info()
 where queue_name like 'qtick%' order by queue_name collate "C";

--
-- force_tick: sets the event sequence to its nextval plus 2 * max_count +
-- 1000 (PgQ 3.5's value), so that the next ticker call ticks; returns the
-- latest tick id, not a new one.  The first call finds the sequence unused
-- (nextval gives 1), the later ones used (nextval is last_value + 1), so the
-- values pinned here are 2001, 4002 and 6003.
--
select pgq.create_queue('qtick_f');
select queue_event_seq as qf_evseq from pgq.queue where queue_name = 'qtick_f' \gset
select pgq.set_queue_config('qtick_f', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('qtick_f', 'ticker_idle_period', '1 hour');
select pgq.ticker('qtick_f');
select pgq.force_tick('qtick_f');
select pgq.seq_getval(:'qf_evseq') as event_seq;
select pgq.ticker('qtick_f');
select pgq.force_tick('qtick_f');
select pgq.seq_getval(:'qf_evseq') as event_seq;
select pgq.ticker('qtick_f');
select pgq.force_tick('qtick_f');
select pgq.seq_getval(:'qf_evseq') as event_seq;
select pgq.force_tick('qtick_nosuch');
select pgq.force_tick(null);
\echo SQLSTATE :SQLSTATE

--
-- Unknown and NULL queue names
--
select pgq.ticker('qtick_nosuch');
\echo SQLSTATE :SQLSTATE
select pgq.ticker(null::text);
\echo SQLSTATE :SQLSTATE

-- a tick needs a snapshot taken after the queue row is locked, which a
-- REPEATABLE READ transaction cannot provide
begin transaction isolation level repeatable read;
select pgq.ticker('qtick_a');
\echo SQLSTATE :SQLSTATE
rollback;
begin transaction isolation level serializable;
select pgq.ticker();
\echo SQLSTATE :SQLSTATE
rollback;

--
-- Sanity checks on the last tick (txids in the messages vary, so only the
-- SQLSTATE is shown)
--
\set VERBOSITY sqlstate
-- last tick's xmin in the future: the database state is invalid
update pgq.tick set tick_snapshot = ((txid_current() + 1000000) || ':' || (txid_current() + 1000000) || ':')::txid_snapshot
 where tick_queue = :qe_id and tick_id = 5;
select pgq.set_queue_config('qtick_ext', 'external_ticker', 'false');
select pgq.ticker('qtick_ext');
\echo SQLSTATE :SQLSTATE
-- last tick's xmax in the future: a warning, then the tick is made
update pgq.tick set tick_snapshot = (txid_current() || ':' || (txid_current() + 1000000) || ':')::txid_snapshot
 where tick_queue = :qe_id and tick_id = 5;
select pgq.set_queue_config('qtick_ext', 'ticker_max_lag', '0');
select pgq.set_queue_config('qtick_ext', 'ticker_idle_period', '0');
select pgq.ticker('qtick_ext');
\set VERBOSITY default
select tick_id from pgq.tick where tick_queue = :qe_id order by tick_id;

--
-- Settings too long to measure in microseconds (about 300,000 years and
-- more) are never reached, ones that far negative always; tick times copied
-- from another queue may be infinite.  Nothing may wrap around.
--
select pgq.create_queue('qtick_long');
select queue_id as ql_id from pgq.queue where queue_name = 'qtick_long' \gset
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '300000 years');
select pgq.set_queue_config('qtick_long', 'ticker_idle_period', '1 hour');
-- a pending event below ticker_max_count: no tick, however old the last one
select pgq.insert_event('qtick_long', 'e', '1');
update pgq.tick set tick_time = now() - interval '1000 years' where tick_queue = :ql_id;
select pgq.ticker('qtick_long');
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '178000000 years');
select pgq.ticker('qtick_long');
-- a lag that far negative is reached at once
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '-300000 years');
select pgq.ticker('qtick_long');
-- idle, lag 1 hour, gap 2 hours: lag < 2 * gap, and the idle period is
-- never reached, so no tick
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '0');
select pgq.set_queue_config('qtick_long', 'ticker_idle_period', '300000 years');
update pgq.tick set tick_time = now() - (5 - 2 * tick_id) * interval '1 hour'
 where tick_queue = :ql_id;
select pgq.ticker('qtick_long');
-- an external tick at -infinity, then local ticking again: the last tick
-- is infinitely old, so a pending event is due at once
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '1 hour');
select pgq.set_queue_config('qtick_long', 'ticker_idle_period', '1 hour');
select pgq.set_queue_config('qtick_long', 'external_ticker', 'true');
select pgq.ticker('qtick_long', 10, '-infinity', 0);
select pgq.set_queue_config('qtick_long', 'external_ticker', 'false');
select pgq.insert_event('qtick_long', 'e', '2');
select pgq.ticker('qtick_long');
-- idle after that: the gap since the tick at -infinity is infinite too, so
-- lag < 2 * gap and lag < idle period: no tick
select pgq.set_queue_config('qtick_long', 'ticker_max_lag', '0');
select pgq.ticker('qtick_long');
select tick_id, tick_event_seq from pgq.tick where tick_queue = :ql_id order by tick_id;

select pgq.drop_queue('qtick_a');
select pgq.drop_queue('qtick_b');
select pgq.drop_queue('qtick_ext');
select pgq.drop_queue('qtick_f');
select pgq.drop_queue('qtick_p');
select pgq.drop_queue('qtick_long');
select count(*) as queues_left from pgq.queue;
