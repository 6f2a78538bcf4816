# londiste3 compare and repair against python3-londiste's on the same
# state: a root -> leaf cascade (Python's workers replay), tables with a
# composite key, a text key, a name that needs quoting and NULLs.
#
# The leaf's rows are broken behind replication's back (replica role),
# then both programs' compare must report the same counts and checksums
# and exit with the number of differing tables; both programs' repair must
# write the same fix files, and after the fixes both compares find the
# tables equal.  Also: --count-only, --repair-where, --apply, a table that
# is not synced yet, and a stopped leaf worker with a short lock_timeout.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";

use IPC::Run ();
use LondisteTest;
use PgqTicker;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use TestFiles ();

ok(-x '/usr/bin/londiste', 'londiste is installed')
  or die "this test needs the Debian package python3-londiste";

my @tables = ('public.plain', 'public."Odd Name"', 'public.texts');
my @names = ('public.plain', 'public.Odd Name', 'public.texts');

my $node = preloaded_node('compare', $LondisteTest::SERVER_CONF);
my $dir  = PostgreSQL::Test::Utils::tempdir;
foreach my $db ('root', 'leaf')
{
	$node->safe_psql('postgres', "create database $db");
	$node->safe_psql(
		$db, q{
create table plain (id int primary key, v text);
create table "Odd Name" (a int, b text, "Some Value" text, primary key (a, b));
create table texts (k text primary key, "order" int, note text);
create table later (id int primary key);
});
}
$node->safe_psql(
	'root', q{
insert into plain select i, 'v' || i from generate_series(1, 30) i;
insert into "Odd Name" select i % 4, 'k' || i, case when i % 3 = 0 then null else 'x' end
  from generate_series(1, 20) i;
insert into texts values ('a', 1, 'plain'), ('b c', 2, null), ('it''s', 3, 'quote'),
  (E'back\\slash', 4, E'tab\there'), ('Z', 5, E'line\nbreak'), ('ä', 6, 'umlaut');
});

my $root = londiste_member(node => $node, db => 'root', name => 'rootnode', dir => $dir);
my $leaf = londiste_member(node => $node, db => 'leaf', name => 'leafnode', dir => $dir);
londiste_ok($root, 'create-root', 'rootnode', $root->{connstr});
tune_queue($root);
londiste_ok($leaf, 'create-leaf', 'leafnode', $leaf->{connstr},
	"--provider=$root->{connstr}");
start_worker($_) for ($root, $leaf);
londiste_ok($root, 'add-table', @names, 'public.later');
londiste_ok($leaf, 'add-table', @names);
londiste_ok($leaf, 'wait-sync');
ok(wait_tables_equal($root, [$leaf], @tables), 'the leaf has the root\'s rows');

# The same member run by our program, and each program's repair in a
# directory of its own (the fix files land in the current directory).
my %run_dir = (python => "$dir/py", londiste3 => "$dir/c");
mkdir $_ for values %run_dir;
sub as_program
{
	my ($m, $program) = @_;
	return { %$m, program => $program, dir => $run_dir{$program} };
}
my $py_leaf = as_program($leaf, 'python');
my $c_leaf  = as_program($leaf, 'londiste3');

# Run a command of member $m with a log file of its own; returns the exit
# code and the log.
my $runs = 0;
sub run_logged
{
	my ($m, @args) = @_;
	my $log = "$dir/run-" . ++$runs . '.log';
	my ($rc, $out, $err) = londiste_run($m, @args, "--set=logfile=$log");
	# python also logs to stderr, ours only what comes before the log opens
	return ($rc, (-e $log && -s $log ? slurp_file($log) : $err));
}

# The messages of a log, without time and pid, that match $re.
sub messages
{
	my ($log, $re) = @_;
	my @lines;
	foreach my $line (split /\n/, $log)
	{
		next unless $line =~ /\b(DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;
		my $msg = "$1 $2";
		push @lines, $msg if $msg =~ $re;
	}
	return join("\n", @lines) . "\n";
}

# Run compare (or another command) with both programs on the same state;
# the exit codes and the messages matching $re must be equal.  Returns
# ours: exit code and log.
my $compare_re = qr/srcdb|dstdb|Results do not match|not synced|not subscribed|Counting|Locking|Syncing|Provider:|as provider|lagging|good source/;
sub both_agree_on
{
	my ($py_m, $c_m, $label, $re, @args) = @_;
	my ($py_rc, $py_err) = run_logged($py_m, @args);
	my ($c_rc,  $c_err)  = run_logged($c_m,  @args);
	is($c_rc, $py_rc, "$label: exit code as python's ($py_rc)")
	  or diag("python:\n$py_err\nours:\n$c_err");
	is(messages($c_err, $re), messages($py_err, $re),
		"$label: log lines as python's");
	return ($c_rc, $c_err);
}
sub both_agree { return both_agree_on($py_leaf, $c_leaf, @_); }

my ($rc, $err) = both_agree('equal tables', $compare_re, 'compare');
is($rc, 0, 'equal tables: compare exits 0');
like($err, qr/srcdb: 30 rows, checksum=-?\d+.*dstdb: 30 rows, checksum=/s,
	'compare prints count and checksum of both sides');
both_agree('count only', $compare_re, 'compare', '--count-only');

# compare_sql and compare_fmt of the ini (where a % is written %%).
my $custom_ini = "$dir/custom.ini";
open my $cf, '>', $custom_ini or die $!;
print $cf slurp_file($leaf->{ini}),
  "compare_sql = select count(1) as cnt, max(id) as top, sum(id) as total from only _TABLE_\n",
  "compare_fmt = %%(cnt)05d rows, top %%(top)s, total %%(total)d\n";
close $cf;
($rc, $err) = both_agree_on({ %$py_leaf, ini => $custom_ini },
	{ %$c_leaf, ini => $custom_ini }, 'custom query', $compare_re, 'compare', 'plain');
like($err, qr/srcdb: 00030 rows, top 30, total 465\n/, 'custom query and format');

# Break the leaf behind replication's back: in replica role the leaf's
# triggers do not fire; the root does not know.
sub break_leaf
{
	$leaf->{node}->safe_psql(
		'leaf', q{
set session_replication_role = replica;
insert into plain values (100, 'extra'), (7, null) on conflict (id) do update set v = 'changed';
update plain set v = null where id = 12;
delete from plain where id in (2, 21);
update "Odd Name" set "Some Value" = 'wrong' where a = 1 and b = 'k5';
update "Odd Name" set "Some Value" = null where a = 2 and b = 'k2';
delete from "Odd Name" where a = 3 and b = 'k11';
insert into "Odd Name" values (9, 'new key', E'sl\\ash');
update texts set note = E'tab\tchanged', "order" = 40 where k = E'back\\slash';
delete from texts where k = 'it''s';
insert into texts values (E'new\nline', null, 'x');
update texts set note = 'was null' where k = 'b c';
});
	return;
}
break_leaf();

($rc, $err) = both_agree('broken leaf', $compare_re, 'compare');
is($rc, 3, 'broken leaf: compare exits with the number of differing tables');
like($err, qr/public\.plain: Results do not match!/, 'the differing table is named');
($rc) = both_agree('broken leaf, one table', $compare_re, 'compare', 'plain');
is($rc, 1, 'compare of one differing table exits 1');
both_agree('broken leaf, count only', $compare_re, 'compare', '--count-only');

# repair to files: the same statements as python's, in the same order.
my $repair_re = qr/Checking|Dumping|Comparing dumps|finished|Got \d+ bytes|pkeys|Using node/;
sub sorted_messages
{
	my ($stderr) = @_;
	return join("\n", sort split /\n/, messages($stderr, $repair_re)) . "\n";
}
my ($py_rc, $py_err) = run_logged($py_leaf, 'repair');
($rc, $err) = run_logged($c_leaf, 'repair');
is($rc, $py_rc, "repair exits as python's ($py_rc)");
is(sorted_messages($err), sorted_messages($py_err), 'repair logs what python logs')
  or diag("python:\n$py_err\nours:\n$err");
like($err, qr/finished public\.plain: src: 30 rows, dst: 29 rows, missed: 2 inserts, 2 updates, 1 deletes/,
	'repair counts the differences');

sub slurp_or_empty
{
	my ($path) = @_;
	return -e $path ? slurp_file($path) : "<no $path>";
}
foreach my $t ('public.plain', 'public.texts')
{
	my $ours = slurp_or_empty("$run_dir{londiste3}/fix.$t.sql");
	is($ours, slurp_or_empty("$run_dir{python}/fix.$t.sql"),
		"fix.$t.sql is python's, byte for byte");
}

# python names a table that needs quoting unquoted in inserts and updates
# (the file would not run); ours quotes it, the rest is the same.
my $py_odd = slurp_or_empty(qq{$run_dir{python}/fix.public.Odd Name.sql});
$py_odd =~ s/^(insert into|update only) public\.Odd Name /$1 public."Odd Name" /mg;
is(slurp_or_empty(qq{$run_dir{londiste3}/fix.public.Odd Name.sql}),
	$py_odd, 'fix file of a quoted name is python\'s with the name quoted');
like($py_odd, qr/is null/, 'the fixes match NULL columns with is null');

# The fix files, run on the leaf in replica role, make the tables equal.
foreach my $t (@tables)
{
	(my $file = $t) =~ s/"//g;
	$leaf->{node}->safe_psql('leaf',
		"set session_replication_role = replica;\n"
		  . slurp_file("$run_dir{londiste3}/fix.$file.sql"));
}
($rc) = both_agree('after the fix files', $compare_re, 'compare');
is($rc, 0, 'after the fix files compare exits 0');

# --apply does the same directly; --repair-where limits the rows looked at.
break_leaf();
($rc, $err) = run_logged($c_leaf, 'repair', 'plain', '--repair-where=id < 10');
is($rc, 0, 'repair --repair-where exits 0');
like($err, qr/Dumping src table: public\.plain id < 10\n.*missed: 1 inserts, 1 updates, 0 deletes/s,
	'--repair-where limits the rows compared');
is(slurp_or_empty("$run_dir{londiste3}/fix.public.plain.sql"),
	"insert into public.plain (id, v) values ('2', 'v2');\n"
	  . "update only public.plain set v = 'v7' where id = '7' and v = 'changed';\n",
	'--repair-where: only the fixes of those rows')
  or diag($err);
unlink "$run_dir{londiste3}/fix.public.plain.sql";
($rc, $err) = run_logged($c_leaf, 'repair', '--apply');
is($rc, 0, 'repair --apply exits 0');
ok(!-e "$run_dir{londiste3}/fix.public.plain.sql", '--apply writes no fix file');
($rc) = both_agree('after --apply', $compare_re, 'compare');
is($rc, 0, 'after repair --apply compare exits 0');
ok(wait_tables_equal($root, [$leaf], @tables), 'the tables are equal again');

# Replication still works after the repairs.
$root->{node}->safe_psql('root', "insert into plain values (500, 'after')");
ok(wait_tables_equal($root, [$leaf], @tables), 'replication goes on');

# A table that is not synced yet, and one that is not subscribed.
londiste_ok($leaf, 'add-table', 'public.later');
stop_worker($leaf);
$leaf->{node}->safe_psql('leaf',
	"select londiste.local_set_table_state('replika', 'public.later', null, null)");
($rc, $err) = both_agree('not synced', $compare_re, 'compare', 'later', 'nosuch');
is($rc, 0, 'compare of a table not synced exits 0');
like($err, qr/Table public\.later not synced yet, no point/, 'not synced is said');
like($err, qr/Table not subscribed: public\.nosuch/, 'not subscribed is said');

is(log_problems($root, $leaf), '', 'no errors in the logs so far');

# The leaf's worker is stopped: the consumer cannot catch up within
# lock_timeout; compare gives up and the root's table is unlocked.
($rc, $err) = both_agree('lagging consumer', $compare_re, 'compare', 'plain',
	'--set=lock_timeout=1');
is($rc, 1, 'a lagging consumer makes compare exit 1');
like($err, qr/Consumer lagging too much, exiting/, 'lagging consumer is said');
is($root->{node}->safe_psql('root',
		"select count(*) from pg_locks where relation = 'public.plain'::regclass"),
	'0', 'the root table is not locked after compare gave up');

# With --force compare waits for the stopped worker as long as it takes,
# holding <pidfile>.repair, which keeps a second compare out; SIGTERM ends
# the wait and releases the root's lock.
my $bg_log = "$dir/force.log";
my $bg = IPC::Run::start(
	[ TestFiles::installed_program('londiste3'), $leaf->{ini}, 'compare', 'plain',
	  '--force', "--set=logfile=$bg_log" ],
	'<', \undef, '>', "$dir/force.out", '2>&1',
	init => sub { chdir $run_dir{londiste3} or die "chdir: $!" });
ok( TestFiles::poll_until(sub { -e $bg_log && slurp_file($bg_log) =~ /Syncing public\.plain/ }),
	'compare --force waits for the stopped worker');
($rc, undef, $err) = londiste_run($c_leaf, 'compare');
is($rc, 1, 'a running compare keeps a second one out');
like($err, qr/pidfile "[^"]*leafnode.pid.repair" is locked by process \d+: already running/,
	'the pidfile is named');
$bg->signal('TERM');
$bg->finish;
is($bg->result(0), 1, 'compare ended by SIGTERM exits 1');
like(slurp_file($bg_log), qr/interrupted by a signal/, 'and says why');
is($root->{node}->safe_psql('root',
		"select count(*) from pg_locks where relation = 'public.plain'::regclass"),
	'0', 'the root table is not locked after SIGTERM');

start_worker($leaf);
ok(wait_tables_equal($root, [$leaf], @tables), 'the restarted worker catches up');
($rc) = both_agree('in the end', $compare_re, 'compare', @tables);
is($rc, 0, 'in the end compare exits 0');

done_testing();
