# DROP DATABASE, ALTER DATABASE RENAME, ALTER DATABASE SET TABLESPACE and
# CREATE DATABASE ... TEMPLATE need their database free of other sessions,
# so the ticker worker there is stopped for them.  That must happen only
# for a statement PostgreSQL lets proceed: otherwise any login role could
# keep another database's ticker stopped by attempting one of them and
# leaving its transaction open, or by attempting them in a loop.
#
# Roles that may not run these statements try each of them on a served
# database, inside transactions they keep open and repeatedly outside
# one: a role without CREATEDB that does not own the database, a role with
# CREATEDB that does not own it, and the owner where the statement is not
# allowed (inside a transaction block or a function).  The worker must keep
# its pid and keep ticking.  Then the owner runs each statement for real,
# without FORCE, while the worker runs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = preloaded_node('dropdb', q{
pgq.discovery_period = 3600
});

my $tsdir = PostgreSQL::Test::Utils::tempdir();
$node->safe_psql(
	'postgres', qq{
create role mallory login;
create role carol login createdb;
create role alice login createdb;
create tablespace ts location '$tsdir';
grant create on tablespace ts to alice, carol, mallory;
create database victim owner alice;
});
setup_consumer($node, 'victim', 'q', 'c');
$node->safe_psql('victim',
	"select pgq.set_queue_config('q', 'ticker_max_lag', '0')");

# Pid of the worker serving $db once it has joined the database.
sub serving_worker
{
	my ($db) = @_;

	$node->poll_query_until('postgres',
		"select count(*) = 1 from pg_stat_activity where backend_type = 'pgq ticker' and datname = '$db'"
	) or die "no worker in $db";
	return worker_pids($node, $db);
}

my %statement = (
	drop => 'drop database victim',
	rename => 'alter database victim rename to renamed',
	tablespace => 'alter database victim set tablespace ts',
	template => 'create database copy template victim');
my $not_owner = qr/must be owner of database victim/;
my $in_block = qr/cannot run inside a transaction block/;

# What each role is told, inside a transaction block and outside one.
my %in_block_not_owner = (
	drop => $in_block,
	rename => $not_owner,
	tablespace => $in_block,
	template => $in_block);
my %refused = (
	mallory => {
		in_block => \%in_block_not_owner,
		outside => {
			drop => $not_owner,
			rename => $not_owner,
			tablespace => $not_owner,
			template => qr/permission denied to create database/
		}
	},
	carol => {
		in_block => \%in_block_not_owner,
		outside => {
			drop => $not_owner,
			rename => $not_owner,
			tablespace => $not_owner,
			template => qr/permission denied to copy database "victim"/
		}
	},
	alice => {
		in_block => {
			drop => $in_block,
			tablespace => $in_block,
			template => $in_block
		}
	});

my $offset = log_offset($node);
produce($node, 'victim', 'q', 1, 1);
ok(drain_until($node, 'victim', 'q', 'c', 1), 'the victim database is ticked');
my $pid = serving_worker('victim');
is( $node->safe_psql('victim',
		"select pid from pgq.ticker_status() where datname = 'victim'"),
	$pid,
	'pgq.ticker_status() shows the worker');

# The event produced now must be ticked by the process that served the
# database before the attempts.
sub worker_kept_ticking
{
	my ($count, $when) = @_;

	produce($node, 'victim', 'q', $count, $count);
	ok(drain_until($node, 'victim', 'q', 'c', $count),
		"the victim is ticked $when");
	is( $node->safe_psql('victim',
			"select pid from pgq.ticker_status() where datname = 'victim'"),
		$pid,
		"pgq.ticker_status() shows the same worker $when");
	is(worker_pids($node, 'victim'), $pid,
		"the same process serves the victim $when");
	return;
}

# Outside a transaction block, again and again.
for my $round (1 .. 3)
{
	for my $role (sort keys %refused)
	{
		for my $what (sort keys %{ $refused{$role}{outside} // {} })
		{
			my ($ret, $stdout, $stderr) = $node->psql(
				'postgres', $statement{$what},
				extra_params => [ '-U', $role ]);
			like($stderr, $refused{$role}{outside}{$what},
				"$role: $what outside a transaction block is refused (round $round)"
			);
		}
	}
}

# The owner, where the statement must run at top level: from a function.
for my $what ('drop', 'tablespace', 'template')
{
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres',
		"do \$\$ begin execute '$statement{$what}'; end \$\$",
		extra_params => [ '-U', 'alice' ]);
	like($stderr, qr/cannot be executed from a function/,
		"alice: $what from a function is refused");
}
worker_kept_ticking(2, 'after the refused statements');

# Each role attempts its statements in savepoints of a transaction that
# stays open while the worker is expected to tick.
$pid = serving_worker('victim');
my %open_tx;
for my $role (sort keys %refused)
{
	my $session = $node->background_psql(
		'postgres',
		on_error_stop => 0,
		extra_params => [ '-U', $role ]);
	$session->query_safe('begin');
	for my $what (sort keys %{ $refused{$role}{in_block} })
	{
		$session->query_safe('savepoint attempt');
		$session->{stderr} = '';
		$session->query($statement{$what});
		like($session->{stderr}, $refused{$role}{in_block}{$what},
			"$role: $what inside a transaction block is refused");
		$session->{stderr} = '';
		$session->query_safe('rollback to savepoint attempt');
	}
	$open_tx{$role} = $session;
}
worker_kept_ticking(3, 'while the refused transactions are open');
$_->quit for values %open_tx;
is(exactly_once($node, 'victim', 'q', 'c', 3), 't', 'each event once');

#
# The owner's statements go through without FORCE while the worker runs,
# in a transaction block where PostgreSQL allows it.
#

# The owner runs $sql while a worker serves $db.
sub owner_runs
{
	my ($db, $sql, $what) = @_;

	serving_worker($db);
	my ($ret, $stdout, $stderr) =
	  $node->psql('postgres', $sql, extra_params => [ '-U', 'alice' ]);
	is($stderr, '', "the owner $what");
	return;
}

owner_runs('victim', 'alter database victim rename to renamed',
	'renames a served database');
owner_runs(
	'renamed', q{
begin;
alter database renamed rename to victim;
commit;
}, 'renames it back inside a transaction block');
owner_runs('victim', 'alter database victim set tablespace ts',
	'moves a served database to another tablespace');
owner_runs('victim', 'create database copy template victim',
	'copies a served database');
owner_runs('victim', 'drop database victim', 'drops a served database');

is(pgq_log_problems(log_since($node, $offset)), '',
	'the ticker logged no problems');

$node->stop;
done_testing();
