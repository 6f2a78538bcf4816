# Helpers for the londiste replication soak tests (test/t/26x_londiste3_*.pl):
# a steady write load, an operation log that shows every row change each
# node made or replayed, and crash points held with locks.
#
# The operation log: every replicated table gets two triggers enabled
# ALWAYS (they fire for local writes and for the worker's replay in the
# replica role alike) that append one line per row change (table, I/U/D,
# hash of the whole new or deleted row) and one per TRUNCATE to the
# node's own op_log, which is never replicated.  After the load stops and
# the tables are equal, every node must hold exactly the changes that any
# node made locally (role "origin"): a lost event is missing there, an
# event replayed twice shows up twice, even one whose second replay
# leaves the table as it was.
#
# The crash points: a session holds a lock the worker is about to need,
# the test waits until a backend is blocked by that session, kills the
# worker (and its copy processes) with SIGKILL, terminates the blocked
# backends before releasing the lock, so that nothing the dead worker
# started can commit afterwards.

package LondisteSoak;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use LondisteTest;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(install_op_log reset_op_log check_op_logs start_load
  stop_load wait_load_progress hold_lock wait_blocked_by
  terminate_blocked release_lock kill_worker_and_copies copy_pids);

# Add the op_log table and its triggers on @tables to member $m.
sub install_op_log
{
	my ($m, @tables) = @_;
	my $sql = q{
create table op_log (id bigserial primary key, tbl text not null,
	op text not null, role text not null, h int);
create function log_row_change() returns trigger language plpgsql as $$
begin
	if tg_op = 'TRUNCATE' then
		insert into op_log (tbl, op, role)
		values (tg_table_schema || '.' || tg_table_name, 'T',
				current_setting('session_replication_role'));
	else
		insert into op_log (tbl, op, role, h)
		values (tg_table_schema || '.' || tg_table_name, left(tg_op, 1),
				current_setting('session_replication_role'),
				hashtext(case when tg_op = 'DELETE' then old::text else new::text end));
	end if;
	return null;
end
$$;
};
	foreach my $t (@tables)
	{
		$sql .= qq{
create trigger zz_log_row after insert or update or delete on $t
	for each row execute function log_row_change();
create trigger zz_log_truncate after truncate on $t
	for each statement execute function log_row_change();
alter table $t enable always trigger zz_log_row;
alter table $t enable always trigger zz_log_truncate;
};
	}
	$m->{node}->safe_psql($m->{db}, $sql);
	return;
}

sub reset_op_log
{
	my (@members) = @_;
	$_->{node}->safe_psql($_->{db}, 'truncate op_log') for @members;
	return;
}

# The lines "table op hash" of member $m's op_log, sorted; only those of
# role $role when given.
sub op_log_lines
{
	my ($m, $role) = @_;
	my $where = defined $role ? "where role = '$role'" : '';
	my $out = $m->{node}->safe_psql($m->{db},
		"select tbl || ' ' || op || ' ' || coalesce(h::text, '-') from op_log $where");
	return sort grep { $_ ne '' } split /\n/, $out;
}

# Every member must have applied each local change of every member once:
# one test per member, with the first differences as diagnostics.
sub check_op_logs
{
	my (@members) = @_;
	my @want = sort map { op_log_lines($_, 'origin') } @members;
	ok(@want > 0, 'the load made changes to compare: ' . scalar(@want));
	foreach my $m (@members)
	{
		my @got = op_log_lines($m);
		my %count;
		$count{$_}++ foreach @want;
		$count{$_}-- foreach @got;
		my @lost    = grep { $count{$_} > 0 } sort keys %count;
		my @doubled = grep { $count{$_} < 0 } sort keys %count;
		ok(!@lost && !@doubled,
			"$m->{name} applied every change once (" . scalar(@got) . ')')
		  or diag(sprintf(
				"%d changes missing, %d too many; first missing: %s; first extra: %s",
				scalar(@lost), scalar(@doubled),
				join(', ', @lost[ 0 .. ($#lost < 4 ? $#lost : 4) ]),
				join(', ', @doubled[ 0 .. ($#doubled < 4 ? $#doubled : 4) ])));
	}
	return;
}

# pgbench running $script (a file) against member $m at $rate
# transactions per second with one client, until stop_load.  Its
# connection has an application_name of its own.
my $LOAD_APPNAME = 'londiste_soak_load';

# The running loads, stopped if a test dies halfway.
my @loads;

END
{
	foreach my $load (@loads)
	{
		eval { $load->{h}->kill_kill; };
	}
}

sub start_load
{
	my ($m, $script, $rate) = @_;
	my $node = $m->{node};
	my ($out, $err) = ('', '');
	local $ENV{PGAPPNAME} = $LOAD_APPNAME;
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', '1', '-R', $rate, '-T', '3600', '-f', $script, $m->{db}
		],
		'<', \undef, '>', \$out, '2>', \$err);
	my $load = { h => $h, m => $m, out => \$out, err => \$err };
	push @loads, $load;
	return $load;
}

# Stop the load and wait until its backend is gone, so that no
# transaction of it commits later.
sub stop_load
{
	my ($load) = @_;
	$load->{h}->signal('KILL');
	eval { $load->{h}->finish; };
	@loads = grep { $_ != $load } @loads;
	my $m = $load->{m};
	$m->{node}->poll_query_until('postgres',
		"select count(*) = 0 from pg_stat_activity where application_name = '$LOAD_APPNAME'")
	  or die "pgbench's backend stays on $m->{name}";
	my $err = ${ $load->{err} };
	diag("pgbench on $m->{name} reported errors:\n$err")
	  if $err =~ /error|abort/i;
	return;
}

# Wait until member $m's op_log has $n more local changes than now.
sub wait_load_progress
{
	my ($m, $n) = @_;
	my $from = $m->{node}->safe_psql($m->{db},
		"select count(*) from op_log where role = 'origin'");
	$m->{node}->poll_query_until($m->{db},
		"select count(*) >= $from + $n from op_log where role = 'origin'")
	  or die "the load on $m->{name} does not progress";
	return;
}

# A session on member $m that ran $sql (which takes a lock) in an open
# transaction; returns { psql, pid, m }.
sub hold_lock
{
	my ($m, $sql) = @_;
	my $psql = $m->{node}->background_psql($m->{db});
	my $pid = $psql->query_safe('select pg_backend_pid()');
	chomp $pid;
	$psql->query_safe("begin; $sql");
	return { psql => $psql, pid => $pid, m => $m };
}

sub blocked_sql
{
	my ($lock) = @_;
	return "from pg_stat_activity where $lock->{pid} = any (pg_blocking_pids(pid))";
}

# Wait until some backend waits for the lock; returns its query.
sub wait_blocked_by
{
	my ($lock) = @_;
	my $node = $lock->{m}{node};
	$node->poll_query_until('postgres',
		'select count(*) > 0 ' . blocked_sql($lock))
	  or die "nothing blocked on the lock held on $lock->{m}{name}";
	return $node->safe_psql('postgres',
		'select string_agg(query, E\'\n\') ' . blocked_sql($lock));
}

sub terminate_blocked
{
	my ($lock) = @_;
	my $node = $lock->{m}{node};
	$node->safe_psql('postgres',
		'select pg_terminate_backend(pid) ' . blocked_sql($lock));
	$node->poll_query_until('postgres',
		'select count(*) = 0 ' . blocked_sql($lock))
	  or die "blocked backends survive pg_terminate_backend";
	return;
}

sub release_lock
{
	my ($lock) = @_;
	$lock->{psql}->query_safe('rollback');
	$lock->{psql}->quit;
	return;
}

# Pids of member $m's live copy processes (pidfiles <pidfile>.copy.<table>).
sub copy_pids
{
	my ($m) = @_;
	my @pids;
	foreach my $f (glob("$m->{pidfile}.copy.*"))
	{
		open my $fh, '<', $f or next;
		my $pid = <$fh>;
		close $fh;
		push @pids, $1 if defined $pid && $pid =~ /^(\d+)/ && kill(0, $1);
	}
	return @pids;
}

# SIGKILL member $m's worker and its copy processes; returns how many
# copy processes there were.
sub kill_worker_and_copies
{
	my ($m) = @_;
	kill_worker($m);
	my @copies = copy_pids($m);
	kill 'KILL', @copies if @copies;
	foreach my $pid (@copies)
	{
		for (my $i = 0; $i < 100 && kill(0, $pid); $i++)
		{
			select(undef, undef, undef, 0.1);
		}
		die "copy process $pid survived SIGKILL" if kill(0, $pid);
	}
	return scalar @copies;
}

1;
