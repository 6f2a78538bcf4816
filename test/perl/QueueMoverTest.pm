# Helpers for the TAP tests of queue_mover and queue_splitter
# (test/t/15x_queue_*.pl).
#
# The tests tick by hand (pgq.ticker) so that each chunk of events becomes
# one batch.  A "job" is a hash: the program, its ini file, log file and
# job name (which is also its consumer name and its connections'
# application_name), and the nodes and databases it reads and writes.
#
# The crash helpers stop a running job at an exact point with locks held
# by other sessions, then kill it with SIGKILL:
#   crash_after_target_commit: the target transaction (events and the tick
#     in pgq_ext) has committed, pgq.finish_batch waits for a row lock on
#     the subscription;
#   crash_before_target_commit: the target transaction waits for a lock on
#     pgq_ext.completed_tick, the events of the batch not yet committed.
# The backends the job leaves behind are terminated before the locks are
# released, so none of its unfinished work can commit after its death.

package QueueMoverTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

our @EXPORT = qw(mover_node create_queue produce queue_rows queue_count consumer_info
  new_job write_job_ini run_job start_job stop_job wait_caught_up
  wait_log crash_after_target_commit crash_before_target_commit
  poll_until);

# Every job started and not yet stopped, killed at exit so that a failed
# test leaves nothing running against a stopped server.
my @running;

END
{
	foreach my $h (@running)
	{
		$h->kill_kill if $h->pumpable;
	}
}

# Wait until $cond returns true; false after the default timeout.
sub poll_until
{
	my ($cond) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		return 1 if $cond->();
		usleep(50_000);
	}
	return 0;
}

# A queue that pgq.ticker(queue) ticks whenever it has a new event
sub create_queue
{
	my ($node, $db, $queue) = @_;
	$node->safe_psql(
		$db, qq{
select pgq.create_queue('$queue');
select pgq.set_queue_config('$queue', 'ticker_max_count', '1');
});
	return;
}

# A started cluster.  $dbs maps database names to the queues to create in
# them; a database with queues also gets pgq_ext (the target side).
sub mover_node
{
	my ($name, %dbs) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	foreach my $db (sort keys %dbs)
	{
		$node->safe_psql('postgres', "create database $db")
		  unless $db eq 'postgres';
		$node->safe_psql($db, 'create extension pgq; create extension pgq_ext');
		create_queue($node, $db, $_) foreach @{ $dbs{$db} };
	}
	return $node;
}

# Insert events $from .. $to into $queue with fields that test the copy
# (quotes, tabs, newlines, backslashes, non-ASCII, NULLs) and tick, so
# that they form one batch.  $extra1 (a value or a sub of the number)
# gives ev_extra1, $type likewise ev_type.
sub produce
{
	my ($node, $db, $queue, $from, $to, %opt) = @_;
	my $extra1 = $opt{extra1} // sub { "tbl_$_[0]" };
	my $type   = $opt{type}   // sub { $_[0] % 3 ? 'I:id' : "odd\ttype" };
	my $sql    = "begin;\n";
	for my $i ($from .. $to)
	{
		my $e1 = ref $extra1 ? $extra1->($i) : $extra1;
		my $t  = ref $type   ? $type->($i)   : $type;
		$e1 = defined $e1 ? "'$e1'" : 'null';
		$t  = defined $t  ? "E'$t'" : 'null';
		my $e3 = $i % 2 ? "'x$i'" : 'null';
		$sql .= "select pgq.insert_event_raw('$queue', null, "
		  . "now() - interval '$i seconds', null, null, $t, "
		  . "E'data $i: quote '' tab \\t nl \\n bs \\\\ cr \\r \\u00e9 end', "
		  . "$e1, 'e2 $i', $e3, null);\n";
	}
	$sql .= "commit;\nselect pgq.ticker('$queue');\n";
	$node->safe_psql($db, $sql);
	return;
}

# The events of $queue as one text, a line per event in ev_id order with
# every field but ev_id and ev_txid; $where restricts them.
sub queue_rows
{
	my ($node, $db, $queue, $where) = @_;
	$where //= 'true';
	my $pfx = $node->safe_psql($db,
		"select queue_data_pfx from pgq.queue where queue_name = '$queue'");
	return $node->safe_psql(
		$db, qq{
select string_agg(concat_ws(' | ', extract(epoch from ev_time),
                            quote_nullable(ev_type), quote_nullable(ev_data),
                            quote_nullable(ev_extra1), quote_nullable(ev_extra2),
                            quote_nullable(ev_extra3), quote_nullable(ev_extra4)),
                  E'\\n' order by ev_id)
  from $pfx where $where});
}

sub queue_count
{
	my ($node, $db, $queue, $where) = @_;
	$where //= 'true';
	my $pfx = $node->safe_psql($db,
		"select queue_data_pfx from pgq.queue where queue_name = '$queue'");
	return $node->safe_psql($db, "select count(*) from $pfx where $where");
}

# "last_tick|current_batch" of the consumer on the source queue
sub consumer_info
{
	my ($node, $db, $queue, $consumer) = @_;
	return $node->safe_psql($db,
		"select last_tick, current_batch from pgq.get_consumer_info('$queue', '$consumer')"
	);
}

# A job of $program; %arg: dir, name, src => [node, db], dst => [node,
# db], queue, and extra ini lines in ini.
sub new_job
{
	my (%arg) = @_;
	my $job = {%arg};
	$job->{ini}     = "$arg{dir}/$arg{name}.ini";
	$job->{log}     = "$arg{dir}/$arg{name}.log";
	$job->{pidfile} = "$arg{dir}/$arg{name}.pid";
	write_job_ini($job);
	return $job;
}

# (Re)write the job's ini; $extra replaces the job's extra lines.
sub write_job_ini
{
	my ($job, $extra) = @_;
	$job->{ini_extra} = $extra if defined $extra;
	my ($snode, $sdb) = @{ $job->{src} };
	my ($dnode, $ddb) = @{ $job->{dst} };
	my $section = $job->{section} // "$job->{program}3";
	my $text    = <<"EOF";
[$section]
job_name = $job->{name}
src_db = @{[ $snode->connstr($sdb) ]}
dst_db = @{[ $dnode->connstr($ddb) ]}
queue_name = $job->{queue}
logfile = $job->{log}
pidfile = $job->{pidfile}
loop_delay = 0.1
exception_sleep = 1
EOF
	$text .= $job->{ini_extra} // '';
	open(my $fh, '>', $job->{ini}) or die "could not write $job->{ini}: $!";
	print $fh $text;
	close $fh;
	return;
}

# The program and its leading arguments: $job->{command} (an array) if
# given, else $job->{program}
sub job_command
{
	my ($job) = @_;
	return @{ $job->{command} // [ $job->{program} ] };
}

# Run the job's program with @args to the end; returns (exit status,
# stdout, stderr).
sub run_job
{
	my ($job, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ job_command($job), @args ], '<', \undef, '>', \$out,
		'2>', \$err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# Start the job in the foreground (stderr to $job->{stderr}); returns the
# IPC::Run handle.
sub start_job
{
	my ($job, @args) = @_;
	$job->{stderr} = '';
	my $h = IPC::Run::start([ job_command($job), @args, $job->{ini} ],
		'<', \undef, '>', \$job->{stderr}, '2>', \$job->{stderr});
	push @running, $h;
	$job->{handle} = $h;
	return $h;
}

# Stop a started job with SIGINT; returns its exit status.
sub stop_job
{
	my ($job) = @_;
	my $h = $job->{handle};
	$h->signal('INT');
	$h->finish;
	@running = grep { $_ != $h } @running;
	delete $job->{handle};
	return $h->result(0);
}

# Wait until the job's consumer has finished every batch of its queue.
sub wait_caught_up
{
	my ($job) = @_;
	my ($node, $db) = @{ $job->{src} };
	return $node->poll_query_until(
		$db, qq{
select current_batch is null and last_tick = (select max(tick_id) from pgq.tick t
                                                join pgq.queue q on q.queue_id = t.tick_queue
                                               where q.queue_name = '$job->{queue}')
  from pgq.get_consumer_info('$job->{queue}', '$job->{name}')});
}

# Wait until the job's log file has $count lines matching $re.
sub wait_log
{
	my ($job, $re, $count) = @_;
	$count //= 1;
	return poll_until(
		sub {
			return 0 unless -e $job->{log};
			my @hits = grep { /$re/ } split /\n/, slurp_file($job->{log});
			return @hits >= $count;
		});
}

# Backends of the job on $node/$db, by its application_name.
sub job_backends_sql
{
	my ($job, $db) = @_;
	return "from pg_stat_activity where application_name = '$job->{name}' and datname = '$db'";
}

sub wait_job_blocked
{
	my ($job, $node, $db) = @_;
	my $from = job_backends_sql($job, $db);
	return $node->poll_query_until('postgres',
		"select count(*) > 0 $from and wait_event_type = 'Lock'");
}

sub kill_job_and_backends
{
	my ($job, @where) = @_;
	my $h = $job->{handle};
	$h->signal('KILL');
	$h->finish;
	@running = grep { $_ != $h } @running;
	delete $job->{handle};
	foreach my $w (@where)
	{
		my ($node, $db) = @$w;
		my $from = job_backends_sql($job, $db);
		$node->safe_psql('postgres', "select pg_terminate_backend(pid) $from");
		$node->poll_query_until('postgres', "select count(*) = 0 $from");
	}
	return $h->full_result(0);
}

# Start the job, stop it with SIGKILL after its target commit and before
# pgq.finish_batch of the first batch it takes, and return the killed
# batch's "tick_id|batch_id" (the job must have a batch waiting).
sub crash_after_target_commit
{
	my ($job) = @_;
	my ($snode, $sdb) = @{ $job->{src} };
	my ($dnode, $ddb) = @{ $job->{dst} };

	# Hold the job at its pgq_ext update on the target ...
	my $tlock = $dnode->background_psql($ddb);
	$tlock->query_safe(
		'begin; lock table pgq_ext.completed_tick in exclusive mode');
	start_job($job);
	wait_job_blocked($job, $dnode, $ddb)
	  or die "the job never reached its pgq_ext update";

	# ... meanwhile lock its subscription row, taken by the open batch ...
	my $slock = $snode->background_psql($sdb);
	my $batch = $slock->query_safe(qq{
begin;
select s.sub_batch
  from pgq.subscription s
  join pgq.consumer c on c.co_id = s.sub_consumer
  join pgq.queue q on q.queue_id = s.sub_queue
 where c.co_name = '$job->{name}' and q.queue_name = '$job->{queue}'
   for update of s});
	chomp $batch;
	die "no open batch" unless $batch =~ /^\d+$/;

	# ... let the target commit, and wait for finish_batch to block.
	$tlock->query_safe('commit');
	wait_job_blocked($job, $snode, $sdb)
	  or die "the job never reached pgq.finish_batch";
	my $tick = $snode->safe_psql($sdb,
		"select sub_next_tick from pgq.subscription where sub_batch = $batch");
	my $ret = kill_job_and_backends($job, [ $snode, $sdb ]);
	$slock->query_safe('rollback');
	$slock->quit;
	$tlock->quit;
	is($ret & 127, 9, "$job->{name} was killed after its target commit");
	return "$tick|$batch";
}

# Start the job and stop it with SIGKILL while its target transaction of
# the first batch waits for a lock, before it commits.  Returns the batch id.
sub crash_before_target_commit
{
	my ($job) = @_;
	my ($snode, $sdb) = @{ $job->{src} };
	my ($dnode, $ddb) = @{ $job->{dst} };

	my $tlock = $dnode->background_psql($ddb);
	$tlock->query_safe(
		'begin; lock table pgq_ext.completed_tick in exclusive mode');
	start_job($job);
	wait_job_blocked($job, $dnode, $ddb)
	  or die "the job never reached its pgq_ext update";
	my $batch = $snode->safe_psql($sdb,
		"select current_batch from pgq.get_consumer_info('$job->{queue}', '$job->{name}')"
	);
	my $ret = kill_job_and_backends($job, [ $dnode, $ddb ]);
	$tlock->query_safe('rollback');
	$tlock->quit;
	is($ret & 127, 9, "$job->{name} was killed before its target commit");
	return $batch;
}

1;
