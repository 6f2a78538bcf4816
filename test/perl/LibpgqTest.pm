# Helpers for the TAP tests of the consumer library (test/t/14x_libpgq_*.pl):
# a node with the in-server ticker, a queue database "src" (pgq, pgq_coop)
# and a target database "dst" (pgq_ext), config files for the test
# consumer test/libpgq/libpgq_probe, and running it in the background.

package LibpgqTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use TestFiles;
use Test::More;

our @EXPORT = qw($probe libpgq_node write_ini start_probe run_probe
  produce wait_applied applied_stats probe_pid wait_blocked poll_until
  slurp wait_tick);

our $probe = "$ENV{TESTDIR}/test/libpgq/libpgq_probe";

# A node whose ticker ticks queue q quickly once events arrive.
sub libpgq_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pgq'
pgq.ticker_period = '100ms'
pgq.retry_period = 1
});
	$node->start;
	$node->safe_psql('postgres', 'create database src');
	$node->safe_psql('postgres', 'create database dst');
	$node->safe_psql('src', q{
create extension pgq;
create extension pgq_coop;
select pgq.create_queue('q');
select pgq.set_queue_config('q', 'ticker_max_lag', '0.2 s');
select pgq.set_queue_config('q', 'ticker_idle_period', '1 s');
});
	$node->safe_psql('dst', 'create extension pgq_ext cascade');
	return $node;
}

# Write DIR/NAME.ini for libpgq_probe; the job (and consumer) is NAME.
sub write_ini
{
	my ($node, $dir, $name, %keys) = @_;
	my $ini = "$dir/$name.ini";
	my %all = (
		src_db => $node->connstr('src'),
		dst_db => $node->connstr('dst'),
		queue_name => 'q',
		loop_delay => '0.1',
		exception_sleep => '0.5',
		pidfile => "$dir/$name.pid",
		logfile => "$dir/$name.log",
		apply_table => "applied_$name",
		%keys);

	$node->safe_psql('dst',
		"create table if not exists $all{apply_table} (ev_id bigint, ev_type text, ev_data text, batch_id bigint)"
	);
	open(my $fh, '>', $ini) or die "could not write $ini: $!";
	print $fh "[libpgq_probe]\n";
	foreach my $k (sort keys %all)
	{
		print $fh "$k = $all{$k}\n" if defined $all{$k};
	}
	close $fh;
	return $ini;
}

# Start libpgq_probe FLAVOUR ARGS in the background; returns the harness.
sub start_probe
{
	my ($flavour, @args) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $probe, $flavour, @args ],
		'<', \undef, '>', \$out, '2>', \$err);
	return $h;
}

# Run libpgq_probe to the end; returns (exit status, stdout, stderr).
sub run_probe
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([ $probe, @_ ], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

# Insert events into q: one transaction, so they share a batch.
sub produce
{
	my ($node, $type, $from, $to, $extra1) = @_;
	my $e1 = defined $extra1 ? "'$extra1'" : 'null';
	$node->safe_psql('src',
		"select pgq.insert_event('q', '$type', i::text, $e1, null, null, null) from generate_series($from, $to) i"
	);
	return;
}

# Wait for a tick of q taken after now: it covers every event committed
# before this call.
sub wait_tick
{
	my ($node) = @_;
	my $now = $node->safe_psql('src', 'select now()');
	return $node->poll_query_until('src', qq{
select count(*) > 0 from pgq.tick t join pgq.queue q on q.queue_id = t.tick_queue
 where q.queue_name = 'q' and t.tick_time > '$now'});
}

# Wait until the table has $count rows.
sub wait_applied
{
	my ($node, $table, $count) = @_;
	return $node->poll_query_until('dst',
		"select count(*) >= $count from $table");
}

# "rows distinct_ids" of the apply table
sub applied_stats
{
	my ($node, $table) = @_;
	return $node->safe_psql('dst',
		"select count(*) || ' ' || count(distinct ev_id) from $table");
}

sub probe_pid
{
	my ($pidfile) = @_;
	my $pid;
	poll_until(sub { $pid = slurp($pidfile); chomp $pid; $pid =~ /^\d+$/ });
	return $pid;
}

# Wait until a session of application_name $app in $db waits for a lock
# in a statement matching $like.
sub wait_blocked
{
	my ($node, $db, $app, $like) = @_;
	return $node->poll_query_until($db, qq{
select count(*) > 0 from pg_stat_activity
 where application_name = '$app' and wait_event_type = 'Lock'
   and query like '$like'});
}

1;
