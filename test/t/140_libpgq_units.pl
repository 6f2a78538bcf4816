# The helpers of the consumer library (src/libpgq), through the test
# program test/libpgq/libpgq_probe: PgQ's urlencoding checked against
# python3-skytools' db_urlencode/db_urldecode as the oracle, the dict,
# %(key)s templates sent as parameters (quotes in the data cannot change
# the statement) and pgq_exec_cmd's ret_code levels.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $probe = "$ENV{TESTDIR}/test/libpgq/libpgq_probe";
ok(-x $probe, 'libpgq_probe is built') or die "run make first";

my @python = ('/usr/bin/python3', '-I');
ok(run_log([ @python, '-c', 'import skytools' ]), 'python3-skytools is importable')
  or die "this test needs the Debian package python3-skytools";

sub run_cmd
{
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run([@_], '<', \undef, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

# Python side of the oracle: the same output format as the probe's.
my $oracle = <<'PY';
import sys, skytools
def hx(s):
    b = s.encode('utf8')
    return b.hex() if b else '-'
cmd = sys.argv[1]
if cmd == 'urldecode':
    try:
        d = skytools.db_urldecode(sys.argv[2])
    except ValueError:
        print('MALFORMED'); sys.exit(1)
    for k, v in d.items():
        print(hx(k), 'NULL' if v is None else hx(v))
else:
    args = sys.argv[2:]
    d = {}
    for i in range(0, len(args), 2):
        k = bytes.fromhex(args[i] if args[i] != '-' else '').decode('utf8')
        v = None if args[i + 1] == 'NULL' else bytes.fromhex(args[i + 1] if args[i + 1] != '-' else '').decode('utf8')
        d[k] = v
    print(skytools.db_urlencode(d))
PY

sub both
{
	my @args = @_;
	my ($rc1, $ours) = run_cmd($probe, @args);
	my ($rc2, $theirs) = run_cmd(@python, '-c', $oracle, @args);
	return ($ours, $theirs, $rc1, $rc2);
}

#### urldecode against the oracle

foreach my $text ('a+b=x%26y%3Dz&n&e=&&', 'a=1&a=2&b=3', '=v', 'k=',
	'a=%C3%BC&%E2%82%AC=euro', 'space=a+b+c&pct=%25&t=%7e%7E', '', '&&&',
	'only', 'q=%27%22%5c%3b', 'x=%4', 'y=%zz', 'z=%4g')
{
	my ($ours, $theirs, $rc1, $rc2) = both('urldecode', $text);
	is($ours, $theirs, "urldecode '$text' agrees with skytools");
	is($rc1, $rc2, "... and so does the verdict");
}

#### urlencode against the oracle

sub hexs
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	utf8::encode($s);
	return length($s) ? unpack('H*', $s) : '-';
}

my @dicts = (
	[ 'id' => '1', 'name' => "O'Brien & \"sons\"", 'nothing' => undef ],
	[ 'a b' => 'x=y+z%', '' => '', "t\tn\n" => "\x{fc}\x{e9}\x{20ac}~*/" ],
	[ 'safe' => 'AZaz09-_.', 'other' => '!#$()[]{}<>|^`@,:;?' ],
	[ 'k' => undef ]);
foreach my $d (@dicts)
{
	my @args = map { hexs($_) } @$d;
	my ($ours, $theirs) = both('urlencode', @args);
	is($ours, $theirs, "urlencode agrees with skytools: $theirs");
	chomp(my $encoded = $ours);
	my ($rc, $decoded) = run_cmd($probe, 'urldecode', $encoded);
	my ($erc, $expected) = run_cmd(@python, '-c', $oracle, 'urldecode', $encoded);
	is($decoded, $expected, '... and decodes back the same way');
}

# Round trip of every byte value but zero, one per key.
my @all = map { ("6b" . sprintf('%02x', $_), sprintf('%02x', $_)) } (1 .. 127);
my ($rc, $enc) = run_cmd($probe, 'urlencode', @all);
chomp $enc;
my ($rc2, $dec) = run_cmd($probe, 'urldecode', $enc);
is($dec, join('', map { "$all[2*$_] $all[2*$_+1]\n" } (0 .. 126)),
	'every ASCII byte survives encode and decode');
($rc, my $out) = run_cmd($probe, 'urldecode', 'nul=%00');
is($out, "MALFORMED\n", 'a zero byte cannot be decoded into a C string: malformed');

#### templates

($rc, $out) = run_cmd($probe, 'template',
	"insert into t (a, b, c) values (%(a)s, %(b)s, %(a)s) -- 100%% sure");
is($out, "insert into t (a, b, c) values (\$1, \$2, \$1) -- 100% sure\n",
	'placeholders become parameters, a repeated key reuses its number, %% is %');
foreach my $bad ('select %(a)d', 'select %s', 'select 5%', 'select %(a', 'select %()s')
{
	($rc, $out) = run_cmd($probe, 'template', $bad);
	like($out, qr/^ERROR: bad placeholder/, "template '$bad' is refused");
	is($rc, 1, '... with exit 1');
}

my $node = PostgreSQL::Test::Cluster->new('units');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
create table victim (x int);
create function cmd(codes int[], out ret_code int, out ret_note text)
returns setof record language sql as
$$ select c, 'note ' || c from unnest(codes) c $$;
});
my $conn = $node->connstr('postgres');

my $evil = "x'); drop table victim; --";
($rc, $out) = run_cmd($probe, 'tmplexec', $conn,
	'select %(a)s::text, %(b)s::text, %(n)s::text is null', "a=$evil", 'b=it\'s', 'n');
is($out, "$evil\tit's\tt\n", 'values travel as data, NULL as NULL');
is($node->safe_psql('postgres', 'select count(*) from victim'), '0',
	'the quote in the data did not end the literal');
($rc, $out) = run_cmd($probe, 'tmplexec', $conn, 'select %(missing)s', 'a=1');
like($out, qr/^ERROR: no value for %\(missing\)s/, 'a key missing from the data is an error');
($rc, $out) = run_cmd($probe, 'tmplexec', $conn, 'select %(a)s::int', 'a=x');
like($out, qr/^ERROR: .*invalid input syntax.*Query: select \$1::int/s, 'a failing query reports the server and the query');

#### pgq_exec_cmd

my $err;
($rc, $out, $err) = run_cmd($probe, 'execcmd', $conn, q{select * from cmd('{100,200,300}')});
is($out, "ok 3\n", 'codes below 400 succeed');
unlike($err, qr/note 100/, '1xx is DEBUG, not shown at the default level');
like($err, qr/ INFO note 200/, '2xx is INFO');
like($err, qr/ WARNING note 300/, '3xx is WARNING');
($rc, $out, $err) = run_cmd($probe, 'execcmd', $conn, q{select * from cmd('{200,404,500}')});
is($rc, 1, '4xx fails');
is($out, "ERROR: 404 note 404\n", '... with the first failing code and note');
($rc, $out) = run_cmd($probe, 'execcmd', $conn, q{select 1 as x});
like($out, qr/^ERROR: .*no ret_code and ret_note/, 'rows without ret_code are an error');
($rc, $out) = run_cmd($probe, 'execcmd', $conn, q{select * from nosuch()});
like($out, qr/^ERROR: .*nosuch.*Query:/s, 'a failing function is an error');

$node->stop;
done_testing();
