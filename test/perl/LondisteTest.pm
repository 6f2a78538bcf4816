# Helpers for the TAP tests that drive londiste against a server: Debian's
# python3-londiste (test/t/07x_londiste_*.pl) and our londiste3
# (test/t/2xx_londiste3_*.pl).  A member runs Python's londiste unless it
# is made with program => 'londiste3'; one cascade may mix both.
#
# A "member" is one londiste node: a database on a cluster plus the ini
# file, pidfile and log of its londiste job.  Every job of a test shares one
# temporary directory, so the copy processes' pidfiles
# (<pidfile>.copy.<table>) land there as well and can be cleaned up.
#
# The tests use whatever pgq, pgq_node and londiste extensions the cluster's
# installation provides: "londiste create-root" creates them.  The in-server
# ticker ticks the queue of our stack; for Debian's original stack the test
# runs pgqd (start_pgqd).

package LondisteTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use TestFiles ();

our @EXPORT = qw(londiste_member londiste_run londiste_ok tune_queue
  start_worker stop_worker kill_worker worker_pid start_pgqd stop_pgqd
  table_digest wait_tables_equal mask_output log_problems kill9_postmaster);

# postgresql.conf lines for the clusters: each londiste worker keeps a few
# connections, and its copy processes and admin commands add more, beyond
# the test framework's default of 10.
our $SERVER_CONF = "max_connections = 60\n";

my $LONDISTE = '/usr/bin/londiste';
my $PGQD     = '/usr/bin/pgqd';

# Every daemon started here, so that a test that dies halfway leaves no
# worker behind retrying against a stopped server.
my @pidfiles;

END
{
	stop_all_daemons();
}

# Describe member $name (node name in the cascade) on database $db of
# cluster $node and write its ini file into $dir.  $extra is appended to
# the [londiste] section.  The intervals are short so that tests spend
# little time waiting for the Python worker's loop.
sub londiste_member
{
	my (%arg) = @_;
	my $dir   = $arg{dir};
	my $name  = $arg{name};
	my $m     = {
		node    => $arg{node},
		db      => $arg{db},
		name    => $name,
		dir     => $dir,
		queue   => $arg{queue} // 'replika',
		ini     => "$dir/$name.ini",
		pidfile => "$dir/$name.pid",
		log     => "$dir/$name.log",
		program => $arg{program} // 'python',
	};
	$m->{connstr} = $arg{node}->connstr($arg{db});

	open my $fh, '>', $m->{ini} or die "writing $m->{ini}: $!";
	print $fh <<"EOF";
[londiste]
job_name = $name
db = $m->{connstr}
queue_name = $m->{queue}
logfile = $m->{log}
pidfile = $m->{pidfile}
loop_delay = 0.1
pgq_lazy_fetch = 50
parallel_copies = 4
exception_sleep = 1
local_wm_publish_period = 1
global_wm_publish_period = 1
EOF
	print $fh $arg{extra} if defined $arg{extra};
	close $fh;
	return $m;
}

# The executable a member runs: ours is found on the PATH, where "make
# install" put it.
sub londiste_program
{
	my ($m) = @_;
	return $LONDISTE if $m->{program} eq 'python';
	die "unknown londiste program $m->{program}"
	  unless $m->{program} eq 'londiste3';
	return TestFiles::installed_program('londiste3');
}

# Run "londiste <ini> @args" in the members' directory.  Returns the exit
# code, stdout and stderr (the log lines).
sub londiste_run
{
	my ($m, @args) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ londiste_program($m), $m->{ini}, @args ],
		'<', \undef, '>', \$out, '2>', \$err,
		init => sub { chdir $m->{dir} or die "chdir: $!" },
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	eval { $h->finish; };
	if ($@)
	{
		$h->kill_kill;
		return (-1, $out, $err . "\ntimed out: $@");
	}
	return ($h->result(0), $out, $err);
}

# londiste_run that must exit 0; returns stdout.
sub londiste_ok
{
	my ($m, @args) = @_;
	my ($rc, $out, $err) = londiste_run($m, @args);
	ok($rc == 0, "$m->{name}: londiste @args")
	  or diag("exit code $rc\nstdout:\n$out\nstderr:\n$err");
	return $out;
}

# Short tick intervals for a queue, so that batches follow writes quickly
# whichever ticker serves the queue.
sub tune_queue
{
	my ($m) = @_;
	$m->{node}->safe_psql(
		$m->{db}, qq{
select pgq.set_queue_config('$m->{queue}', 'ticker_max_lag', '0.2 s');
select pgq.set_queue_config('$m->{queue}', 'ticker_idle_period', '1 s');
});
	return;
}

sub read_pid
{
	my ($pidfile) = @_;
	open my $fh, '<', $pidfile or return undef;
	my $pid = <$fh>;
	close $fh;
	return undef unless defined $pid && $pid =~ /^(\d+)/;
	return $1;
}

# Pid of the member's worker daemon if it is running, else undef.
sub worker_pid
{
	my ($m) = @_;
	my $pid = read_pid($m->{pidfile});
	return (defined $pid && kill(0, $pid)) ? $pid : undef;
}

sub wait_for
{
	my ($cond) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(100_000);
	}
	return 0;
}

# Start "londiste <ini> worker -d" and wait until its pidfile names a live
# process (the framework writes it after daemonising).
sub start_worker
{
	my ($m) = @_;
	push @pidfiles, $m->{pidfile};
	my ($rc, $out, $err) = londiste_run($m, 'worker', '-d');
	die "starting the worker of $m->{name} failed: $rc\n$err" if $rc != 0;
	wait_for(sub { defined worker_pid($m) })
	  or die "the worker of $m->{name} did not start; its log:\n"
	  . (-e $m->{log} ? slurp_file($m->{log}) : '');
	return worker_pid($m);
}

# Stop the worker the way an operator does ("-s": finish the batch, exit)
# and wait until the process is gone.
sub stop_worker
{
	my ($m) = @_;
	my $pid = worker_pid($m);
	return unless defined $pid;
	londiste_run($m, '-s');
	wait_for(sub { !kill(0, $pid) })
	  or die "the worker of $m->{name} (pid $pid) did not stop";
	return;
}

# kill -9 the worker; its pidfile stays behind, as after a real crash.
sub kill_worker
{
	my ($m) = @_;
	my $pid = worker_pid($m);
	die "no worker running for $m->{name}" unless defined $pid;
	kill 'KILL', $pid;
	wait_for(sub { !kill(0, $pid) })
	  or die "the worker of $m->{name} (pid $pid) survived SIGKILL";
	return $pid;
}

# kill -9 the postmaster of $node and wait until its children (whose
# process titles start with the cluster name) have noticed and exited, so
# that the data directory can be started again.
sub kill9_postmaster
{
	my ($node) = @_;
	my $postmaster = $node->{_pid};
	my $title = 'postgres: ' . $node->name . ': ';
	$node->kill9;
	wait_for(
		sub {
			return 0 if kill(0, $postmaster);
			foreach my $cmdline (glob('/proc/[0-9]*/cmdline'))
			{
				open(my $fh, '<', $cmdline) or next;
				my $line = <$fh> // '';
				close($fh);
				return 0 if index($line, $title) == 0;
			}
			return 1;
		}) or die "children of the killed postmaster of " . $node->name . " stay";
	return;
}

# pgqd ticking and maintaining databases @dbs of $node (the original
# stack's ticker); ticker_period matches the in-server ticker's reaction to
# tune_queue's short max lag as far as pgqd's loop allows.
sub start_pgqd
{
	my ($node, $dir, @dbs) = @_;
	my $ini = "$dir/pgqd.ini";
	my $host = $node->host;
	my $port = $node->port;
	open my $fh, '>', $ini or die $!;
	print $fh <<"EOF";
[pgqd]
logfile = $dir/pgqd.log
pidfile = $dir/pgqd.pid
base_connstr = host=$host port=$port
initial_database = $dbs[0]
database_list = @{[ join(', ', @dbs) ]}
syslog = 0
check_period = 1
ticker_period = 0.1
maint_period = 1
retry_period = 1
EOF
	close $fh;
	return IPC::Run::start([ $PGQD, $ini ], '>', "$dir/pgqd.stdout", '2>&1');
}

sub stop_pgqd
{
	my ($h) = @_;
	$h->kill_kill;
	return;
}

# SIGTERM every daemon started through start_worker and every copy process
# whose pidfile is in one of their directories.
sub stop_all_daemons
{
	my %seen;
	foreach my $pidfile (@pidfiles)
	{
		foreach my $f ($pidfile, glob("$pidfile.copy.*"))
		{
			next if $seen{$f}++;
			my $pid = read_pid($f);
			kill 'TERM', $pid if defined $pid && kill(0, $pid);
		}
	}
	return;
}

# "rows|checksum" of a table; the checksum covers every column.
sub table_digest
{
	my ($m, $table) = @_;
	return $m->{node}->safe_psql($m->{db},
		"select count(*) || '|' || coalesce(sum(hashtext(t::text)::bigint), 0) from only $table t"
	);
}

# Wait until every table of @tables has the same digest on each of
# @targets as on $source; true on success, with a diagnostic otherwise.
sub wait_tables_equal
{
	my ($source, $targets, @tables) = @_;
	my $last = '';
	my $equal = wait_for(
		sub {
			foreach my $t (@tables)
			{
				my $want = table_digest($source, $t);
				foreach my $m (@$targets)
				{
					my $got = table_digest($m, $t);
					if ($got ne $want)
					{
						$last = "$t on $m->{name}: $got, on $source->{name}: $want";
						return 0;
					}
				}
			}
			return 1;
		});
	diag("tables differ: $last") unless $equal;
	return $equal;
}

# Lines of the members' logs at ERROR or CRITICAL level.
sub log_problems
{
	my (@members) = @_;
	return join '',
	  map { grep { /\b(ERROR|CRITICAL)\b/ } split /^/m, slurp_file($_->{log}) }
	  @members;
}

# Output of status/members/tables with what differs between two equal
# set-ups blanked out: connect strings (hosts and ports of the clusters),
# lag and tick ids.  Column widths stay: the clusters' socket directories
# and ports are of equal length.
sub mask_output
{
	my ($text) = @_;
	$text =~ s/host=\S+/'host=' . ('H' x (length($&) - 5))/ge;
	$text =~ s/port=\d+/'port=' . ('P' x (length($&) - 5))/ge;
	$text =~ s/Lag: \S+, Tick: \d+/Lag: L, Tick: T/g;
	return $text;
}

1;
