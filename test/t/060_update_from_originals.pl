# Switching a cluster from Debian's original PgQ stack to ours in place.
#
# A cluster runs the originals (pgq 3.5, pgq_node 3.5, londiste 3.8 from
# the Debian packages; pgq_coop 3.4 and pgq_ext 3.3 from test/fixtures/,
# which recreate the shape of those unpackaged originals) with Debian's
# pgqd as the ticker and Debian's londiste replicating between two of its
# databases.  Queues are left mid-way: consumers half through, a batch
# open, events waiting in the retry queue, a rotated queue, events not yet
# ticked.  Then the packages are switched for ours, the server restarts
# with our in-server ticker, and ALTER EXTENSION ... UPDATE brings each
# extension to our version.  After that every extension's catalog must
# equal a fresh CREATE EXTENSION's, every event must be consumed exactly
# once, and replication must go on with the leaf equal to the root.
#
# Before the update the in-server ticker finds pgq 3.5 in a database: it
# must log that once and leave the database alone (no ticks, no
# maintenance, whose 3.5 functions need the original's libraries) until
# the extension is ours.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use ExtensionCatalog;
use IPC::Run;
use OriginalStack;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

plan skip_all => 'original Debian packages not available (PGQ_ORIGINAL_DEBS)'
  unless original_debs();

my $pgqd = '/usr/bin/pgqd';
my $londiste = '/usr/bin/londiste';
ok(-x $pgqd && -x $londiste, 'pgqd and londiste are installed')
  or die "this test needs the Debian packages pgqd and python3-londiste";

my $tmp     = PostgreSQL::Test::Utils::tempdir;
my $dest    = "$tmp/tree";
my $install = make_tree($dest);
my $extdir  = "$dest/usr/share/postgresql/15/extension";

# The companions' originals, recreated (see test/fixtures/).
foreach my $fixture ('pgq_coop--3.4.sql', 'pgq_ext--3.3.sql')
{
	system('cp', "$FindBin::RealBin/../fixtures/$fixture", $extdir) == 0
	  or die "copying $fixture failed";
}

my $node = PostgreSQL::Test::Cluster->new('upgrade', install_path => $install);
$node->init;
$node->append_conf('postgresql.conf', "log_line_prefix = '%m [%p] %b '\n");
$node->start;

my $host = $node->host;
my $port = $node->port;
sub connstr { return "dbname=$_[0] host=$host port=$port" }

# ---------------------------------------------------------------------
# On the originals
# ---------------------------------------------------------------------

foreach my $db ('root', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
		create extension pgq;
		create extension pgq_node;
		create extension londiste;
		create table repl (id int primary key, val text);
	});
}
$node->safe_psql(
	'root', q{
	create extension pgq_coop version '3.4';
	create extension pgq_ext version '3.3';
	insert into pgq_ext.completed_tick values ('ext_consumer', '', 17);
	insert into pgq_ext.completed_batch values ('ext_consumer', 'sub', 4);
	insert into pgq_ext.partial_batch values ('ext_consumer', '', 5);
	insert into pgq_ext.completed_event values ('ext_consumer', '', 5, 101);
});
is( $node->safe_psql(
		'root',
		"select string_agg(extname || ' ' || extversion, ', ' order by extname) from pg_extension where extname <> 'plpgsql'"
	),
	'londiste 3.8, pgq 3.5, pgq_coop 3.4, pgq_ext 3.3, pgq_node 3.5',
	'the originals are installed');

# Queue plain_q rotates every second; consumer c1 takes batches as they
# come, c2 retries every tenth event once (ev_data is the event number),
# so that retried events are under way when the packages are switched.
setup_consumer($node, 'root', 'plain_q', 'c1');
$node->safe_psql(
	'root', q{
	select pgq.register_consumer('plain_q', 'c2');
	select pgq.set_queue_config('plain_q', 'rotation_period', '1 second');
	create function pgq_test_drain_retrying(i_queue text, i_consumer text)
	returns bigint language plpgsql as $$
	declare
	    v_batch bigint;
	    v_ev record;
	begin
	    loop
	        v_batch := pgq.next_batch(i_queue, i_consumer);
	        exit when v_batch is null;
	        for v_ev in select * from pgq.get_batch_events(v_batch) loop
	            if v_ev.ev_retry is null and v_ev.ev_data::int % 10 = 0 then
	                perform pgq.event_retry(v_batch, v_ev.ev_id, 0);
	            else
	                insert into pgq_test_seen
	                values (i_queue, i_consumer, v_ev.ev_id, v_ev.ev_data, v_batch);
	            end if;
	        end loop;
	        perform pgq.finish_batch(v_batch);
	    end loop;
	    return (select count(*) from pgq_test_seen
	             where queue = i_queue and consumer = i_consumer);
	end
	$$;
});

my $pgqd_ini = "$tmp/pgqd.ini";
append_to_file($pgqd_ini, <<"EOF");
[pgqd]
logfile = $tmp/pgqd.log
pidfile = $tmp/pgqd.pid
base_connstr = host=$host port=$port
initial_database = postgres
database_list = root, leaf
syslog = 0
check_period = 1
ticker_period = 1
maint_period = 1
retry_period = 1
EOF
my $pgqd_h =
  IPC::Run::start([ $pgqd, $pgqd_ini ], '>', "$tmp/pgqd.stdout", '2>&1');

produce($node, 'root', 'plain_q', 1, 40);
ok(drain_until($node, 'root', 'plain_q', 'c1', 40), 'c1 consumes 1..40');
ok( $node->poll_query_until(
		'root', "select pgq_test_drain_retrying('plain_q', 'c2') >= 40"),
	'c2 consumes 1..40, each tenth one after a retry');
ok( $node->poll_query_until(
		'root',
		"select queue_cur_table <> 0 from pgq.get_queue_info('plain_q')"),
	'pgqd rotated the event tables of plain_q');

# Londiste: root and leaf nodes, a table copied initially and then
# replicated, each node's worker running.
my %ini;
foreach my $db ('root', 'leaf')
{
	$ini{$db} = "$tmp/$db.ini";
	append_to_file($ini{$db}, <<"EOF");
[londiste]
job_name = upgrade_$db
db = @{[ connstr($db) ]}
queue_name = replika
logfile = $tmp/londiste_$db.log
pidfile = $tmp/londiste_$db.pid
loop_delay = 0.2
EOF
}

sub run_londiste
{
	my ($db, @args) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ $londiste, $ini{$db}, @args ],
		'<', \undef, '>', \$out, '2>', \$err);
	ok($ok, "londiste $db: @args")
	  or diag("stdout:\n$out\nstderr:\n$err");
	return;
}

my %worker_h;
sub start_workers
{
	foreach my $db ('root', 'leaf')
	{
		$worker_h{$db} = IPC::Run::start([ $londiste, $ini{$db}, 'worker' ],
			'<', \undef, '>>', "$tmp/worker_$db.out", '2>&1');
	}
	return;
}

sub stop_workers
{
	foreach my $db ('root', 'leaf')
	{
		$worker_h{$db}->signal('TERM');
		$worker_h{$db}->finish;
	}
	return;
}

# The rows of the replicated table, as one comparable string.
sub table_rows
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"select count(*) || ':' || coalesce(md5(string_agg(id || '=' || val, ',' order by id)), '') from repl"
	);
}

$node->safe_psql('root',
	"insert into repl select g, 'initial ' || g from generate_series(1, 50) g"
);
run_londiste('root', 'create-root', 'root_node', connstr('root'));
run_londiste('leaf', 'create-leaf', 'leaf_node', connstr('leaf'),
	'--provider=' . connstr('root'));
start_workers();
run_londiste('root', 'add-table', 'public.repl');
run_londiste('leaf', 'add-table', 'public.repl');
$node->safe_psql('root',
	"insert into repl select g, 'replicated ' || g from generate_series(51, 100) g; "
	  . "update repl set val = 'changed' where id % 7 = 0");
ok( $node->poll_query_until(
		'leaf',
		"select count(*) = 1 from londiste.get_table_list('replika') where table_name = 'public.repl' and merge_state = 'ok'"
	),
	'the leaf copied the table');
my $root_rows = table_rows('root');
ok( $node->poll_query_until(
		'leaf', "select count(*) || ':' || md5(string_agg(id || '=' || val, ',' order by id)) = '$root_rows' from repl"),
	'the leaf has the rows of the root (originals)');

# Leave plain_q mid-way: wait until pgqd has ticked everything so far,
# stop it, and with no ticker left c1 opens a batch it does not finish,
# c2 takes the remaining batches and so leaves retried events in the
# retry queue, and more events arrive that no tick covers yet.
produce($node, 'root', 'plain_q', 41, 60);
ok( $node->poll_query_until(
		'root', "select ev_new = 0 from pgq.get_queue_info('plain_q')"),
	'pgqd ticked 41..60');
stop_workers();
$pgqd_h->kill_kill;
my $pgqd_log = slurp_file("$tmp/pgqd.log");
unlike($pgqd_log, qr/\b(ERROR|FATAL)\b/, 'pgqd logged no errors');

my $open_batch = $node->safe_psql('root', "select pgq.next_batch('plain_q', 'c1')");
isnt($open_batch, '', 'c1 has an open batch');
$node->safe_psql('root', "select pgq_test_drain_retrying('plain_q', 'c2')");
produce($node, 'root', 'plain_q', 61, 80);
isnt($node->safe_psql('root', 'select count(*) from pgq.retry_queue'),
	'0', 'events wait in the retry queue');

# What must survive the switch unchanged.
my $state_sql = q{
	select (select string_agg(format('%s %s %s %s %s', queue_name, queue_cur_table,
	               queue_switch_step1, queue_switch_step2, queue_rotation_period), ';')
	          from pgq.queue),
	       (select string_agg(format('%s %s %s %s', sub_queue, sub_consumer,
	               sub_last_tick, sub_batch), ';' order by sub_queue, sub_consumer)
	          from pgq.subscription),
	       (select string_agg(format('%s %s', tick_queue, tick_id), ';'
	               order by tick_queue, tick_id) from pgq.tick),
	       (select string_agg(format('%s %s', ev_owner, ev_id), ';' order by ev_owner, ev_id)
	          from pgq.retry_queue),
	       (select count(*) from pgq.event_template)
};
my $state_before = $node->safe_psql('root', $state_sql);
my $node_state_sql = q{
	select (select string_agg(format('%s %s %s', queue_name, node_name, node_type), ';')
	          from pgq_node.node_info),
	       (select string_agg(format('%s %s %s', table_name, merge_state, local), ';')
	          from londiste.table_info),
	       (select string_agg(format('%s %s %s', consumer_name, provider_node, last_tick_id), ';'
	               order by consumer_name)
	          from pgq_node.local_state)
};
my %node_state_before =
  map { $_ => $node->safe_psql($_, $node_state_sql) } ('root', 'leaf');
my $ext_rows_sql = q{
	select (select string_agg(format('%s', t), ';') from pgq_ext.completed_tick t),
	       (select string_agg(format('%s', t), ';') from pgq_ext.completed_batch t),
	       (select string_agg(format('%s', t), ';') from pgq_ext.partial_batch t),
	       (select string_agg(format('%s', t), ';') from pgq_ext.completed_event t)
};
my $ext_rows_before = $node->safe_psql('root', $ext_rows_sql);

# ---------------------------------------------------------------------
# The switch: our packages replace the originals, pgq is preloaded
# ---------------------------------------------------------------------

$node->stop;
switch_to_ours($dest);
ok(!-e "$install/lib/pgq_lowlevel.so" && !-e "$install/lib/pgq_triggers.so",
	"the originals' libraries are gone");
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'pgq'
pgq.ticker_period = 100ms
pgq.retry_period = 1
pgq.maint_period = 1
});
my $log_start = log_offset($node);
$node->start;

# Before ALTER EXTENSION UPDATE: the ticker waits, and says so once.
my $waiting = qr/pgq ticker is waiting for extension pgq to be updated in database "root"/;
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
usleep(100_000)
  while log_since($node, $log_start) !~ $waiting && time() < $deadline;
like(log_since($node, $log_start), $waiting,
	'the ticker says it waits for the update');

# Many ticker periods later it has still said it once, and done nothing:
# the queues look as they were left.
my $ticks_before =
  $node->safe_psql('root', 'select count(*) from pgq.tick');
usleep(1_500_000);
my $log = log_since($node, $log_start);
is(scalar(() = $log =~ /$waiting/g), 1, 'it says so only once');
is(pgq_log_problems($log), '', 'no warnings or errors from the ticker');
is($node->safe_psql('root', $state_sql), $state_before,
	'queues, ticks, subscriptions and retry queue are untouched before the update');

# ---------------------------------------------------------------------
# ALTER EXTENSION ... UPDATE, and the catalogs against fresh installs
# ---------------------------------------------------------------------

# pgq first: the companions' functions call into it.
my @extensions = ('pgq', 'pgq_coop', 'pgq_ext', 'pgq_node', 'londiste');
ok(-e "$extdir/$_.control", "our $_ is installed")
  foreach ('pgq_node', 'londiste');
my %in_leaf = map { $_ => 1 } ('pgq', 'pgq_node', 'londiste');

$node->safe_psql('postgres', 'create database fresh');
foreach my $ext (@extensions)
{
	foreach my $db ('root', 'leaf')
	{
		next if $db eq 'leaf' && !$in_leaf{$ext};
		$node->safe_psql($db, "alter extension $ext update");
	}
	$node->safe_psql('fresh', "create extension $ext cascade");
	is(extension_catalog($node, 'root', $ext),
		extension_catalog($node, 'fresh', $ext),
		"$ext: updated catalog equals a fresh install's");
	is( $node->safe_psql(
			'root', "select count(*) from pg_proc p join pg_depend d on d.objid = p.oid and d.deptype = 'e' join pg_extension e on e.oid = d.refobjid where e.extname = '$ext' and p.probin is not null and p.probin <> '\$libdir/pgq'"
		),
		'0',
		"$ext: no function left on another library");
}
is($node->safe_psql('root', $ext_rows_sql), $ext_rows_before,
	'pgq_ext rows survive the update');

# ---------------------------------------------------------------------
# Carrying on
# ---------------------------------------------------------------------

ok( $node->poll_query_until(
		'root', "select count(*) > $ticks_before from pgq.tick"),
	'the ticker ticks once pgq is updated');
$log = log_since($node, $log_start);
is(scalar(() = $log =~ /$waiting/g), 1, 'it said it waited only once');

# c1's open batch from before the switch is finished now, then both
# consumers take the rest: every event exactly once.
is( $node->safe_psql(
		'root', qq{
	insert into pgq_test_seen
	select 'plain_q', 'c1', ev_id, ev_data, $open_batch
	  from pgq.get_batch_events($open_batch);
	select pgq.finish_batch($open_batch);}),
	'1',
	'the batch opened on the originals is finished on ours');
ok(drain_until($node, 'root', 'plain_q', 'c1', 80), 'c1 consumes the rest');
is(exactly_once($node, 'root', 'plain_q', 'c1', 80),
	't', 'c1 saw every event exactly once');
ok( $node->poll_query_until(
		'root', "select pgq_test_drain_retrying('plain_q', 'c2') >= 80"),
	'c2 consumes the rest, retried events included');
is(exactly_once($node, 'root', 'plain_q', 'c2', 80),
	't', 'c2 saw every event exactly once');
is($node->safe_psql('root', 'select count(*) from pgq.retry_queue'),
	'0', 'the retry queue is empty');

foreach my $db ('root', 'leaf')
{
	is($node->safe_psql($db, $node_state_sql), $node_state_before{$db},
		"$db: cascade nodes and table registrations survive");
}

start_workers();
$node->safe_psql('root',
	"insert into repl select g, 'after the switch ' || g from generate_series(101, 150) g; "
	  . "update repl set val = 'changed again' where id % 5 = 0; "
	  . "delete from repl where id % 11 = 0");
$root_rows = table_rows('root');
ok( $node->poll_query_until(
		'leaf', "select count(*) || ':' || md5(string_agg(id || '=' || val, ',' order by id)) = '$root_rows' from repl"),
	'the leaf has the rows of the root (ours)');
stop_workers();

$log = log_since($node, $log_start);
is(pgq_log_problems($log), '', 'no warnings or errors from the ticker');
foreach my $db ('root', 'leaf')
{
	unlike(slurp_file("$tmp/londiste_$db.log"),
		qr/\b(ERROR|FATAL)\b/, "londiste $db logged no errors");
}

$node->stop;
done_testing();
