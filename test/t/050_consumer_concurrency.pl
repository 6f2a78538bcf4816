# Consumers coming and going under load: a bounded pgbench run in which
# several clients register and unregister the same few consumer names,
# take, retry and finish their batches (whole batches in one transaction,
# and step by step in several), produce, tick, move retry events, rotate,
# and drop and re-create a queue, all at once.  Each client runs a fixed
# number of transactions, so the run takes as long as it takes.
#
# It passes when no client met an error other than those a client of a
# queue whose consumers and batches come and go must expect (listed in
# cc_try below), and no transaction failed on a deadlock or serialization
# conflict; and when the bookkeeping is consistent afterwards.  Isolation
# specs pin the individual races (register_unregister_race,
# register_rotation_race, consumer_lock_order, drop_queue_race); this
# catches the combinations.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $clients = 8;
my $transactions = 150;

my $node = PostgreSQL::Test::Cluster->new('consumers');
$node->init;
# a deadlock would otherwise hold its clients for a second each
$node->append_conf('postgresql.conf', "deadlock_timeout = '100ms'");
$node->start;

$node->safe_psql(
	'postgres', q{
create extension pgq;
-- every ticker call ticks, every rotation is due at once
create function cc_setup_queue(q text) returns void language sql as $$
    select pgq.create_queue(q);
    select pgq.set_queue_config(q, k, v)
      from (values ('ticker_max_count', '1'), ('ticker_max_lag', '0'),
                   ('ticker_idle_period', '0'), ('rotation_period', '0')) as s(k, v);
$$;
select cc_setup_queue('cc' || i) from generate_series(1, 3) i;

-- Run a statement, tolerating only the expected errors: the consumer or
-- batch is gone (another client unregistered or finished it), queue cc3
-- is gone (it is dropped and re-created), or a queue has no tick to
-- start a consumer on (rotation deletes the ticks older than the previous
-- rotation, all of them if the ticker has not run since).
create function cc_try(sql text) returns void language plpgsql as $$
begin
    execute sql;
exception
    when undefined_object then
        if sqlerrm not like '%is not registered on queue%'
           and sqlerrm not like 'batch % does not exist'
           and sqlerrm <> 'queue "cc3" does not exist' then
            raise;
        end if;
    when object_not_in_prerequisite_state then
        if sqlerrm not like 'queue % has no ticks' then
            raise;
        end if;
end
$$;

-- the consumer's next batch, 0 if there is none or no such consumer
create function cc_next(q text, c text) returns bigint language plpgsql as $$
begin
    return coalesce(pgq.next_batch(q, c), 0);
exception when undefined_object then
    if sqlerrm not like '%is not registered on queue%'
       and sqlerrm <> 'queue "cc3" does not exist' then
        raise;
    end if;
    return 0;
end
$$;

-- a whole batch in one transaction, as the python consumer does it
create function cc_consume(q text, c text) returns void language plpgsql as $$
declare
    b bigint := cc_next(q, c);
begin
    if b > 0 then
        perform pgq.event_retry(b, ev_id, 0) from pgq.get_batch_events(b)
          where ev_id % 3 = 0;
        perform pgq.finish_batch(b);
    end if;
end
$$;
});

# Producers write to cc1 and cc2 only: the insert path takes the event id
# sequence before the event table, drop_queue the other way round.
my %scripts = (
	register => q{
\set q random(1, 3)
\set c random(1, 4)
select cc_try(format('select pgq.register_consumer(%L, %L)', 'cc' || :q, 'c' || :c));
},
	unregister => q{
\set q random(1, 3)
\set c random(1, 4)
select cc_try(format('select pgq.unregister_consumer(%L, %L)', 'cc' || :q, 'c' || :c));
},
	consume_whole => q{
\set q random(1, 3)
\set c random(1, 4)
select cc_consume('cc' || :q, 'c' || :c);
},
	consume_steps => q{
\set q random(1, 3)
\set c random(1, 4)
select cc_next('cc' || :q, 'c' || :c) as b \gset
select cc_try(format('select pgq.batch_retry(%s, 0)', :b)) where :b > 0 and :b % 2 = 0;
select cc_try(format('select pgq.event_retry(%s, ev_id, 0) from pgq.get_batch_events(%1$s) where ev_id %% 3 = 0', :b)) where :b > 0;
select pgq.finish_batch(:b) where :b > 0;
},
	produce => q{
\set q random(1, 2)
select pgq.insert_event('cc' || :q, 't', 'x') from generate_series(1, 3);
select pgq.ticker();
},
	maintain => q{
\set q random(1, 3)
select pgq.maint_retry_events();
select cc_try(format('select pgq.maint_rotate_tables_step1(%L)', 'cc' || :q));
select pgq.maint_rotate_tables_step2();
},
	recreate => q{
select cc_try('select pgq.drop_queue(''cc3'', true)');
select pgq.create_queue('cc3');
select cc_try(format('select pgq.set_queue_config(%L, %L, %L)', 'cc3', k, v))
  from (values ('ticker_max_count', '1'), ('ticker_max_lag', '0'),
               ('ticker_idle_period', '0'), ('rotation_period', '0')) as s(k, v);
},);
my %weights = (
	register => 3,
	unregister => 2,
	consume_whole => 3,
	consume_steps => 3,
	produce => 2,
	maintain => 1,
	recreate => 1);

my $dir = PostgreSQL::Test::Utils::tempdir;
my @files;
for my $name (sort keys %scripts)
{
	append_to_file("$dir/$name.sql", $scripts{$name});
	push @files, '-f', "$dir/$name.sql\@$weights{$name}";
}

my ($out, $err);
my $ok = IPC::Run::run [
	'pgbench', '--no-vacuum', '--failures-detailed',
	'--client' => $clients,
	'--jobs' => 2,
	'--transactions' => $transactions,
	'--host' => $node->host,
	'--port' => $node->port,
	@files, 'postgres'
  ],
  '>' => \$out,
  '2>' => \$err;

note(join("\n", grep { /^number of/ } split(/\n/, $out)));
# only the lines that matter if something went wrong
my $errors = join("\n", grep { /error|aborted/i } split(/\n/, $err));
ok($ok, 'pgbench finished, no client aborted on an unexpected error')
  or diag($errors);
like(
	$out,
	qr/^number of transactions actually processed: (\d+)\/\1$/m,
	'every transaction ran');
like(
	$out,
	qr/^number of failed transactions: 0 \(/m,
	'no deadlock or serialization failure')
  or diag($out);

is( $node->safe_psql(
		'postgres', q{
select (select count(*) from pgq.retry_queue r
         where not exists (select 1 from pgq.subscription s where s.sub_id = r.ev_owner))
       || ' ' ||
       (select count(*) from pgq.consumer c
         where not exists (select 1 from pgq.subscription s where s.sub_consumer = c.co_id))
       || ' ' ||
       (select count(*) from pgq.subscription s
         where not exists (select 1 from pgq.tick t
                            where t.tick_queue = s.sub_queue and t.tick_id = s.sub_last_tick))}
	),
	'0 0 0',
	'no retry rows without a subscription, no unused consumer names, no position on a missing tick'
);

# every consumer left can still take and finish a batch
is( $node->safe_psql(
		'postgres', q{
do $$
declare
    r record;
begin
    perform pgq.ticker();
    for r in select q.queue_name, c.co_name
               from pgq.subscription s
               join pgq.queue q on q.queue_id = s.sub_queue
               join pgq.consumer c on c.co_id = s.sub_consumer
    loop
        perform cc_consume(r.queue_name, r.co_name);
    end loop;
end
$$;
select count(*) from pgq.subscription where sub_batch is not null;}
	),
	'0',
	'the consumers go on consuming');

$node->stop;
done_testing();
