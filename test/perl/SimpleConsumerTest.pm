# Helpers for the TAP tests of simple_consumer and simple_local_consumer
# (test/t/16*_simple_*.pl).
#
# setup_simple() makes a node with a source database holding queue "sq"
# and table "data" whose changes logutriga turns into events, and a target
# database "dst" with table "applied", into which the dst_query of
# simple_ini() copies every key an event offers.  The tests tick by hand
# (pgq.ticker) so that each tick is exactly one batch, and run the
# consumers with loop_delay = 0: one call handles one batch and exits, 0
# when the batch was applied (or there was none), 1 when it failed.

package SimpleConsumerTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(setup_simple simple_ini run_prog tick applied_rows
  consumer_tick stats_line);

# The keys dst_query stores, in column order of table applied.
our @APPLIED_KEYS = qw(pgq.tick_id pgq.ev_id pgq.ev_time pgq.ev_type
  pgq.ev_data pgq.ev_extra1 pgq.ev_extra2 pgq.ev_extra3 pgq.ev_extra4
  id name);

sub setup_simple
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql(
		'postgres', q{
create extension pgq;
select pgq.create_queue('sq');
create table data (id int primary key, name text);
create trigger data_to_queue after insert or update or delete on data
    for each row execute procedure pgq.logutriga('sq');
create database dst;
});
	$node->safe_psql(
		'dst', q{
create table applied (
    seq serial primary key,
    tick_id bigint, ev_id bigint, ev_time timestamptz, ev_type text,
    ev_data text, ev_extra1 text, ev_extra2 text, ev_extra3 text,
    ev_extra4 text, id text, name text);
});
	return $node;
}

# Config text for $service with the given extra lines; the dst_query
# copies every key of @APPLIED_KEYS into table applied.
sub simple_ini
{
	my ($node, $service, $extra) = @_;
	my $cols = 'tick_id, ev_id, ev_time, ev_type, ev_data, '
	  . 'ev_extra1, ev_extra2, ev_extra3, ev_extra4, id, name';
	my $vals = join(', ', map { "%%($_)s" } @APPLIED_KEYS);
	return
	    "[$service]\n"
	  . "src_db = "
	  . $node->connstr('postgres') . "\n"
	  . "dst_db = "
	  . $node->connstr('dst') . "\n"
	  . "queue_name = sq\n"
	  . "loop_delay = 0\n"
	  . "exception_sleep = 0.1\n"
	  . "dst_query = insert into applied ($cols) values ($vals)\n"
	  . ($extra // '');
}

# Run a program to its end; returns (exit code, stdout, stderr), the exit
# code being 128 + N after death by signal N, as a shell reports it.
sub run_prog
{
	my @cmd = @_;
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run(\@cmd, '<', \undef, '>', \$stdout, '2>', \$stderr,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	my $code = ($? & 127) ? 128 + ($? & 127) : $? >> 8;
	return ($code, $stdout, $stderr);
}

# Tick queue sq; returns the new tick id (dies when no tick was made).
sub tick
{
	my ($node) = @_;
	$node->safe_psql('postgres', "select pgq.force_tick('sq')");
	my $tick = $node->safe_psql('postgres', "select pgq.ticker('sq')");
	die "no tick made" if $tick eq '';
	return $tick;
}

# Rows of table applied as "col|col|..." lines, in the order applied.
sub applied_rows
{
	my ($node, $cols) = @_;
	return $node->safe_psql('dst',
		"select $cols from applied order by seq");
}

# The consumer's last tick on queue sq, or '' when it is not registered.
sub consumer_tick
{
	my ($node, $consumer) = @_;
	return $node->safe_psql('postgres',
		"select last_tick from pgq.get_consumer_info('sq', '$consumer')");
}

# The last per-batch stats line in a log text, or ''.
sub stats_line
{
	my ($log) = @_;
	my @lines = grep { /\{count: / } split /\n/, $log;
	return @lines ? $lines[-1] : '';
}

1;
