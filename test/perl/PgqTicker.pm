# Helpers for the TAP tests of the in-server ticker (test/t/03*_ticker_*.pl).
#
# A node made by preloaded_node() has pgq in shared_preload_libraries and
# logs with the backend type in the line prefix, so that log checks can
# pick out what the launcher and the ticker workers wrote.
#
# The consumer helpers keep exactly-once bookkeeping inside the database:
# drain() takes every available batch, copies its events into table
# pgq_test_seen and finishes the batch in the same transaction, so a crash
# at any point neither loses an event nor records one twice.

package PgqTicker;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(preloaded_node setup_consumer produce drain_until
  exactly_once worker_pids log_offset log_since pgq_log_problems
  poll_query_after_crash);

# poll_query_until for a server that may be restarting after a crash:
# poll_query_until hands its query to psql on stdin, and a psql refused
# during the restart exits before reading it, which fails the write with
# EPIPE and ends the test script.  Here the query goes on the command line.
sub poll_query_after_crash
{
	my ($node, $db, $query) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while (time < $deadline)
	{
		my ($out, $err) = ('', '');
		IPC::Run::run(
			[ 'psql', '-XAtq', '-d', $node->connstr($db), '-c', $query ],
			'<', \undef, '>', \$out, '2>', \$err);
		chomp $out;
		return 1 if $? == 0 && $out eq 't';
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

# Start a node with pgq preloaded; extra postgresql.conf lines may be given.
sub preloaded_node
{
	my ($name, $extra_conf) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(allows_streaming => 1);
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'pgq'
log_line_prefix = '%m [%p] %b '
} . ($extra_conf // ''));
	$node->start;
	return $node;
}

# Create queue $queue (extension first if needed), register $consumer and
# install the bookkeeping table and the drain function in database $db.
sub setup_consumer
{
	my ($node, $db, $queue, $consumer) = @_;

	$node->safe_psql(
		$db, qq{
create extension if not exists pgq;
select pgq.create_queue('$queue');
select pgq.register_consumer('$queue', '$consumer');
create table if not exists pgq_test_seen
    (queue text, consumer text, ev_id bigint, ev_data text, batch_id bigint);
create or replace function pgq_test_drain(i_queue text, i_consumer text)
returns bigint language plpgsql as \$\$
declare
    v_batch bigint;
begin
    loop
        v_batch := pgq.next_batch(i_queue, i_consumer);
        exit when v_batch is null;
        insert into pgq_test_seen
        select i_queue, i_consumer, e.ev_id, e.ev_data, v_batch
          from pgq.get_batch_events(v_batch) e;
        perform pgq.finish_batch(v_batch);
    end loop;
    return (select count(*) from pgq_test_seen
             where queue = i_queue and consumer = i_consumer);
end
\$\$;
});
	return;
}

# Insert events numbered $from .. $to into $queue, one transaction each.
sub produce
{
	my ($node, $db, $queue, $from, $to) = @_;
	my $sql = '';

	$sql .= "select pgq.insert_event('$queue', 'test', '$_');\n"
	  for ($from .. $to);
	$node->safe_psql($db, $sql);
	return;
}

# Consume until $count events have been seen; true on success.
sub drain_until
{
	my ($node, $db, $queue, $consumer, $count) = @_;

	return $node->poll_query_until($db,
		"select pgq_test_drain('$queue', '$consumer') >= $count");
}

# Whether the consumer saw each of the events 1 .. $count exactly once.
sub exactly_once
{
	my ($node, $db, $queue, $consumer, $count) = @_;

	return $node->safe_psql(
		$db, qq{
select count(*) = $count and count(distinct ev_data) = $count
       and min(ev_data::int) = 1 and max(ev_data::int) = $count
  from pgq_test_seen where queue = '$queue' and consumer = '$consumer'});
}

# Pids of the ticker workers serving $db, as a space-separated string.
sub worker_pids
{
	my ($node, $db) = @_;

	return $node->safe_psql('postgres',
		"select string_agg(pid::text, ' ' order by pid) from pg_stat_activity "
		  . "where backend_type = 'pgq ticker' and datname = '$db'");
}

sub log_offset
{
	my ($node) = @_;

	return -s $node->logfile;
}

sub log_since
{
	my ($node, $offset) = @_;

	return substr(slurp_file($node->logfile), $offset);
}

# Lines a pgq process logged at WARNING or worse, and abnormal ends of
# ticker workers (their quiet exits have code 0, which is not logged) or of
# the launcher.
sub pgq_log_problems
{
	my ($log) = @_;

	return join('',
		grep {
			     /\] pgq (launcher|ticker) +(WARNING|ERROR|FATAL|PANIC):/
			  || /"pgq ticker[^"]*" \(PID \d+\) (exited|was terminated)/
			  || /"pgq launcher" \(PID \d+\) was terminated/
		} split /^/m, $log);
}

1;
